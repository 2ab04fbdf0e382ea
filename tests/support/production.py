"""Run the project in a child process under production settings, as a container would."""

import os
import secrets
import subprocess
import sys

from tests.support import REPOSITORY


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
