"""Placeholder: runs pytest. (Full version: starts embedded Redis, installs chromium.)"""
import subprocess
import sys

sys.exit(subprocess.call([sys.executable, "-m", "pytest", *sys.argv[1:]]))
