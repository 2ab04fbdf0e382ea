"""Run the project in a child process under production settings, as a container would: a
management command, or a service started with docker-compose.yml's own command line."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

from tests.support import REPOSITORY
from tests.support.compose import resolved_config
from tests.support.processes import die_with_parent


def production_environment(**overrides: str | None) -> dict[str, str]:
    """This process's environment switched to production settings with valid secrets.

    An override of None removes the variable; "" sets it empty (which base.py's .env reading
    does not fill in, so a developer's .env cannot hide a missing variable).
    """
    environment = dict(os.environ)
    # The browser tests' conftest sets this in the test process (Playwright's event loop);
    # a production process never has it, and check --deploy rightly flags it.
    environment.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    environment.update(
        DJANGO_SETTINGS_MODULE="labelplatform.settings.production",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="labels.example.com",
        SECURE_SSL_REDIRECT="True",
        SECURE_HSTS_SECONDS="31536000",
        SECURE_HSTS_INCLUDE_SUBDOMAINS="True",
        SECURE_HSTS_PRELOAD="True",
        PYTHONPATH=str(REPOSITORY),
    )
    for name, value in overrides.items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    return environment


def run_in_production(*args: str, **overrides: str | None) -> subprocess.CompletedProcess:
    """`python ARGS` from the repository root under production settings."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPOSITORY,
        env=production_environment(**overrides),
        capture_output=True,
        text=True,
        timeout=180,
    )


def compose_service_command(service: str) -> list[str]:
    """docker-compose.yml's command for `service` (gunicorn or celery with their options), run
    with this virtualenv's executable of the same name."""
    command = resolved_config()["services"][service]["command"]
    assert command[0] in ("gunicorn", "celery"), command
    return [str(Path(sys.executable).with_name(command[0])), *command[1:]]


def production_process_start(
    command: list[str], *, env: dict[str, str], log_path: Path
) -> subprocess.Popen:
    """Start `command` from the repository root with `env`, its output into `log_path`; it
    dies with the test process (no stray web server or worker if the tests are killed)."""
    with log_path.open("wb") as log:
        return subprocess.Popen(
            command, cwd=REPOSITORY, env=env, stdout=log, stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )  # fmt: skip
