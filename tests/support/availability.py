"""A test whose tool this machine lacks: skipped with the reason on a developer's machine,
failed in CI (CI=true), where a missing tool must never pass as green."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def running_in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def not_available_here(reason: str, *, what: str = "test") -> NoReturn:
    """Skip the test with `reason` (a browser, PostgreSQL's server binaries, permission to
    mount a filesystem, the real photos are missing), or fail it under CI=true."""
    if running_in_ci():
        pytest.fail(f"{reason}; CI=true, so the {what} fails instead of skipping", pytrace=False)
    pytest.skip(f"{what.upper()} NOT RUN: {reason}")
