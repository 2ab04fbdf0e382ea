"""PostgreSQL restarted under a running platform: clean 503s while it is down, and recovery
without restarting the web server or the workers.

The platform runs as deployed (gunicorn with labelplatform.gunicorn_conf, the compose file's
training worker, production settings with persistent, health-checked connections) on a
PostgreSQL server of the test's own (tests/support/postgres.py), which the tests stop
(`pg_ctl stop -m fast`, or `-m immediate` as a crash would) and start again. Everything goes
through HTTP, as a client would see it.

Without PostgreSQL's server binaries these tests are skipped with the reason on a developer's
machine and fail in CI (tests/support/availability.py).
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
import requests

from labelplatform.middleware import DATABASE_RETRY_AFTER_SECONDS
from tests.classifier import tiny_backbone
from tests.factories import png_bytes
from tests.support import REPOSITORY
from tests.support.availability import not_available_here
from tests.support.labeled_images import CLASS_COLORS, FAST_TRAINING
from tests.support.postgres import PrivatePostgres, postgres_bin_dir
from tests.support.processes import free_port, wait_until
from tests.support.production import (
    compose_service_command,
    production_environment,
    production_process_start,
)
from tests.support.redis_server import PrivateRedis

pytestmark = pytest.mark.worker

PUBLIC_HOST = "labels.example.com"
ORIGIN = f"https://{PUBLIC_HOST}"
USERNAME, PASSWORD = "olivia-owner", "a-long-enough-password-4711"
STORE_VARIABLES = ["AWS_STORAGE_BUCKET_NAME", "AWS_S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID"]
# Labeled images per split and class: the fewest the tiny backbone trains and measures on.
PER_SPLIT = {"train": 3, "validation": 2, "test": 2}


# ------------------------------------------------------------------------------------------
# The platform on a private PostgreSQL
# ------------------------------------------------------------------------------------------


@dataclass
class Platform:
    database: PrivatePostgres
    web_url: str
    web: subprocess.Popen
    worker: subprocess.Popen
    logs: dict[str, Path]
    token: str = ""
    session_cookie: str = ""
    project_id: int = 0
    web_pids: set[int] = field(default_factory=set)

    def log(self) -> str:
        parts = [f"--- {name}\n{path.read_text(errors='replace')[-4000:]}" for name, path in
                 self.logs.items()]  # fmt: skip
        return "\n".join([*parts, f"--- postgres\n{self.database.log()[-2000:]}"])

    def processes(self) -> set[int]:
        """gunicorn's master and workers, and the Celery worker: the same ids before and after
        a restart of the database mean nothing was restarted."""
        master = psutil.Process(self.web.pid)
        return {self.web.pid, *(c.pid for c in master.children()), self.worker.pid}

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {
            "Authorization": f"Token {self.token}",
            "Host": PUBLIC_HOST,
            "X-Forwarded-Proto": "https",
            **kwargs.pop("headers", {}),
        }
        return requests.request(method, self.web_url + path, headers=headers, timeout=30, **kwargs)

    def page(self, path: str, *, accept: str = "text/html") -> requests.Response:
        """A logged-in browser's request (the session cookie is Secure: set by hand, since
        the test talks plain HTTP to gunicorn behind an imagined TLS proxy)."""
        headers = {
            "Cookie": f"sessionid={self.session_cookie}",
            "Host": PUBLIC_HOST,
            "X-Forwarded-Proto": "https",
            "Accept": accept,
        }
        return requests.get(self.web_url + path, headers=headers, timeout=30, allow_redirects=False)


def _login(platform: Platform) -> str:
    proxy = {"Host": PUBLIC_HOST, "X-Forwarded-Proto": "https"}
    form = requests.get(f"{platform.web_url}/accounts/login/", headers=proxy, timeout=30)
    csrf = form.cookies["csrftoken"]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    logged_in = requests.post(
        f"{platform.web_url}/accounts/login/",
        data={"username": USERNAME, "password": PASSWORD, "csrfmiddlewaretoken": token},
        headers={**proxy, "Cookie": f"csrftoken={csrf}", "Origin": ORIGIN},
        allow_redirects=False,
        timeout=30,
    )
    assert logged_in.status_code == 302, logged_in.text[:2000]
    return logged_in.cookies["sessionid"]


def _upload_labeled(platform: Platform) -> None:
    seed = 0
    for split, count in PER_SPLIT.items():
        for label, color in CLASS_COLORS.items():
            files = []
            for _ in range(count):
                seed += 1
                jitter = tuple(min(255, c + (seed * 7) % 30) for c in color)
                files.append(("files", (f"{label}-{seed}.png", png_bytes(color=jitter, seed=seed))))
            uploaded = platform.api(
                "POST",
                f"/api/projects/{platform.project_id}/images/",
                files=files,
                data={"split": split, "label": label},
            )
            assert uploaded.status_code == 201, uploaded.text


@pytest.fixture(scope="module")
def platform(tmp_path_factory) -> Iterator[Platform]:
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        not_available_here(
            "PostgreSQL's server binaries (initdb, pg_ctl) are missing "
            "(Debian: sudo apt-get install postgresql)",
            what="database restart test",
        )
    folder = tmp_path_factory.mktemp("platform")
    database = PrivatePostgres(bin_dir)
    redis = PrivateRedis(port=free_port(), folder=folder)
    processes: list[subprocess.Popen] = []
    try:
        database.create().start()
        redis.start()
        (folder / "media").mkdir()
        environment = production_environment(
            ALLOWED_HOSTS=PUBLIC_HOST,
            DATABASE_URL=database.url(),
            REDIS_URL=redis.url,
            CELERY_BROKER_URL=None,
            MEDIA_ROOT=str(folder / "media"),
            CLASSIFIER_BACKBONE="tiny",
            # Production settings know only classifier.ml's backbones: add the tests' one.
            CLASSIFIER_EXTRA_BACKBONES=f"tiny={tiny_backbone.LOADER}",
            CLASSIFIER_WEIGHTS_DIR=str(folder / "weights"),
            PYTHONUNBUFFERED="1",
            TF_CPP_MIN_LOG_LEVEL="2",
            **dict.fromkeys(STORE_VARIABLES, None),
        )
        superuser = {
            "DJANGO_SUPERUSER_USERNAME": USERNAME,
            "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
            "DJANGO_SUPERUSER_EMAIL": "olivia@example.com",
        }
        for command in ("migrate", "createsuperuser"):
            done = subprocess.run(
                [sys.executable, "manage.py", command, "--noinput"],
                cwd=REPOSITORY, env={**environment, **superuser},
                capture_output=True, text=True, timeout=300,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr

        port = free_port()
        logs = {"web": folder / "web.log", "worker": folder / "worker.log"}
        services = {"web": "web", "worker": "worker-training"}
        for name, service in services.items():
            env = {**environment, "PORT": str(port), "WEB_CONCURRENCY": "1"}
            command = compose_service_command(service)
            processes.append(production_process_start(command, env=env, log_path=logs[name]))
        web, worker = processes
        platform = Platform(database, f"http://127.0.0.1:{port}", web, worker, logs)

        def ready() -> bool:
            for process in processes:
                if process.poll() is not None:
                    raise AssertionError(f"a process exited:\n{platform.log()}")
            try:
                requests.get(f"{platform.web_url}/healthz", timeout=2).raise_for_status()
            except requests.RequestException:
                return False
            return " ready." in logs["worker"].read_text(errors="replace")

        wait_until(ready, timeout=180, interval=0.3, message="gunicorn and the worker")

        token = requests.post(
            f"{platform.web_url}/api/auth/token/",
            json={"username": USERNAME, "password": PASSWORD},
            headers={"Host": PUBLIC_HOST, "X-Forwarded-Proto": "https"},
            timeout=30,
        )
        assert token.status_code == 200, token.text
        platform.token = token.json()["token"]
        platform.session_cookie = _login(platform)
        created = platform.api(
            "POST",
            "/api/projects/",
            json={"name": "Coffee", "classes": ["coffee", "other"]},
        )
        assert created.status_code == 201, created.text
        platform.project_id = created.json()["id"]
        _upload_labeled(platform)
        platform.web_pids = platform.processes()
        yield platform
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        redis.stop()
        database.destroy()


@pytest.fixture
def database_up(platform) -> Iterator[Platform]:
    """The platform with its database running, before and after the test."""
    if not platform.database.running():
        platform.database.start()
    yield platform
    if not platform.database.running():
        platform.database.start()


# ------------------------------------------------------------------------------------------
# Traffic: a client sending requests the whole time
# ------------------------------------------------------------------------------------------


@dataclass
class Answer:
    at: float
    what: str
    status: int
    content_type: str
    retry_after: str | None
    body: str


@dataclass
class Traffic:
    """Requests in a loop (a page, the API, a labeling-page JSON endpoint) until stopped."""

    platform: Platform
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def requests(self) -> dict[str, callable]:
        project = self.platform.project_id
        return {
            "page": lambda: self.platform.page("/"),
            "api": lambda: self.platform.api("GET", f"/api/projects/{project}/images/"),
            "script": lambda: self.platform.page(
                f"/projects/{project}/label/queue/", accept="application/json"
            ),
        }

    def run(self) -> None:
        deadline = time.monotonic() + 120  # bounded, whatever happens to the test
        while not self._stop.is_set() and time.monotonic() < deadline:
            for what, send in self.requests().items():
                response = send()
                self.answers.append(
                    Answer(
                        time.monotonic(), what, response.status_code,
                        response.headers.get("Content-Type", ""),
                        response.headers.get("Retry-After"), response.text[:2000],
                    )
                )  # fmt: skip
            time.sleep(0.02)

    def __enter__(self) -> Traffic:
        self._thread = threading.Thread(target=self.run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(60)

    def after(self, moment: float) -> list[Answer]:
        return [answer for answer in self.answers if answer.at > moment]


def wait_for_answers(traffic: Traffic, since: float, *, status: int, timeout: float = 30):
    """Wait until every kind of request has been answered with `status` after `since`."""

    def answered() -> bool:
        return {a.what for a in traffic.after(since) if a.status == status} == {
            "page", "api", "script"
        }  # fmt: skip

    wait_until(answered, timeout=timeout, interval=0.05, message=f"a {status} to every request")


# ------------------------------------------------------------------------------------------
# Tests
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stop_mode", ["fast", "immediate"])
def test_requests_get_a_clean_503_while_postgresql_is_down_and_200_once_it_is_back(
    database_up, stop_mode
):
    platform = database_up
    with Traffic(platform) as traffic:
        wait_for_answers(traffic, 0, status=200)

        stopped_at = time.monotonic()
        platform.database.stop(stop_mode)
        wait_for_answers(traffic, stopped_at, status=503)
        started_at = time.monotonic()
        platform.database.start()
        wait_for_answers(traffic, started_at, status=200)

    statuses = {(answer.what, answer.status) for answer in traffic.answers}
    assert {status for _, status in statuses} == {200, 503}, (statuses, platform.log())
    down = [answer for answer in traffic.answers if answer.status == 503]
    for answer in down:
        assert answer.retry_after == str(DATABASE_RETRY_AFTER_SECONDS), answer
        if answer.what == "page":
            assert answer.content_type.startswith("text/html"), answer
            assert "Briefly unavailable" in answer.body and "The database is unreachable" in (
                answer.body
            ), answer.body
        else:
            assert answer.content_type == "application/json", answer
            assert answer.body == (
                '{"detail": "The database is unreachable; try again in a few seconds."}'
            ), answer.body
    # Nothing was restarted: the same gunicorn master and workers, the same Celery worker.
    assert platform.processes() == platform.web_pids
    assert "Traceback" not in platform.logs["web"].read_text(errors="replace"), platform.log()


def test_a_job_asked_after_the_restart_runs_on_the_same_worker(database_up):
    platform = database_up
    platform.database.stop("immediate")
    platform.database.start()

    asked = platform.api(
        "POST",
        f"/api/projects/{platform.project_id}/training-runs/",
        json={"hyperparameters": FAST_TRAINING},
    )
    assert asked.status_code == 202, asked.text
    run = platform.api("GET", f"/api/training-runs/{asked.json()['id']}/?wait=90").json()

    assert run["status"] == "succeeded", (run, platform.log())
    assert run["model_version"] is not None
    assert platform.processes() == platform.web_pids
