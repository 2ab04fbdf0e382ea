"""The soak (bench/soak.py) for three minutes: the run command's processes on a private database
and Redis, annotators, an uploader and the owner at work, faults from a seeded schedule, then
every check against the database and storage must pass (the script exits 1 otherwise)."""

import os
import subprocess
import sys

import pytest

from tests.support import REPOSITORY

pytestmark = pytest.mark.slow


def test_three_minutes_of_work_under_faults_lose_nothing_and_leave_nothing_stuck(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    result = subprocess.run(
        [sys.executable, "bench/soak.py", "--minutes", "3", "--backbone", "tiny",
         "--annotators", "6", "--fault-interval", "25", "--seed", "3"],
        cwd=REPOSITORY, env=env, capture_output=True, text=True, timeout=15 * 60,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "All checks passed" in output
    assert "faults injected: 0" not in output
