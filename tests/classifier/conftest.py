"""Fixtures for the classifier: labeled projects, the test broker, real Celery workers.

The broker is the Redis the test command provides (env REDIS_URL, private to that run).
Without one, the session starts its own redis-server on a free port: a Redis database
shared by two test sessions at once lets one session's worker take the other's messages
(and drop them, their ids being unknown in its database). Workers are real `celery worker`
subprocesses (solo pool, as in production) that see the test database (pass
`transaction=True` to django_db so rows are committed) and the test media folder through
their environment; they die with the test process.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import kombu.pools
import pytest
from django.conf import settings
from django.db import connection

from classifier import broker
from classifier.models import JobStatus, PredictionJob, TrainingRun
from labeling.models import Annotation, Image, LabelStatus, Project, Split
from labelplatform.celery import app as celery_app
from tests.factories import ImageFactory, png_bytes

REPOSITORY = Path(__file__).resolve().parents[2]
# Where Redis is when no redis-server binary can be started (database 5 of the local one).
FALLBACK_BROKER_URL = "redis://127.0.0.1:6379/5"
_session: dict[str, str] = {}


@pytest.fixture(autouse=True)
def _forget_heads_loaded_in_this_process():
    """Tests that run the worker's code in this process leave heads cached by model-version id,
    and SQLite hands out the same ids again after a test's rollback: a later test's version 1
    must not be served an earlier test's head (of another size, from another backbone)."""
    yield
    # Only where a test loaded the worker code (with TensorFlow): not imported for nothing.
    loaded_models = sys.modules.get("classifier.worker.loaded_models")
    if loaded_models is not None:
        loaded_models.heads_forget()


def session_broker_url() -> str:
    """The broker of this test session (see the session_broker fixture)."""
    return _session["broker_url"]


# The default 200 epochs (patience 15) never stop early on these easy, separable pictures;
# the tests are about the plumbing, so they train briefly and fast.
FAST_TRAINING = {"max_epochs": 15, "patience": 5, "learning_rate": 0.05}
# Colours the tiny backbone separates easily: the tests are about the plumbing.
CLASS_COLORS = {"coffee": (150, 90, 40), "other": (40, 90, 200)}


def broker_use(url: str) -> None:
    """Point this process's Celery app (the web side of the tests) at `url`."""
    celery_app.conf.broker_url = url
    celery_app.conf.broker_write_url = None
    celery_app.conf.broker_read_url = None
    # kombu keeps pools in global registries keyed by broker URL: closing the app's pool
    # alone would leave a closed pool there, handed back ("Acquire on closed pool") the
    # next time this URL is used. reset() closes them and empties the registries.
    kombu.pools.reset()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    # A broker an earlier test hung may have left a back-off under a port reused since.
    broker._unresponsive_until.clear()


@pytest.fixture(scope="session", autouse=True)
def session_broker(tmp_path_factory) -> Iterator[str]:
    url, server = os.environ.get("REDIS_URL"), None
    if not url and (shutil.which("redis-server") or Path("/usr/bin/redis-server").exists()):
        server = PrivateRedis(port=free_port(), folder=tmp_path_factory.mktemp("redis"))
        server.start()
        url = server.url
    _session["broker_url"] = url or FALLBACK_BROKER_URL
    broker_use(_session["broker_url"])
    yield _session["broker_url"]
    if server:
        server.stop()


@pytest.fixture(autouse=True)
def _tiny_backbone(settings):
    # The real backbone only where a test asks for it (marked slow).
    settings.CLASSIFIER_BACKBONE = "tiny"


def labeled_image(project: Project, *, label: str, split: str, seed: int) -> Image:
    color = CLASS_COLORS.get(label, (120, 120, 120))
    jitter = tuple(min(255, c + (seed * 7) % 30) for c in color)
    label_class = project.classes.get(name=label)
    image = ImageFactory(
        project=project,
        content=png_bytes(color=jitter, seed=seed),
        split=split,
        label=label_class,
        label_status=LabelStatus.LABELED,
    )
    # Labeled as the app labels: by an annotation (so the labeling queue skips it).
    Annotation.objects.create(image=image, user=project.created_by, label_class=label_class)
    return image


@pytest.fixture
def labeled_project(project):
    """make(per_split={"train": 6, "validation": 3, "test": 3}) -> the `project` fixture
    (or the one given) with that many labeled images per class in each split."""
    seeds = iter(range(1, 1_000_000))

    def make(*, into: Project | None = None, per_split: dict[str, int] | None = None):
        target = into or project
        per_split = per_split or {Split.TRAIN: 6, Split.VALIDATION: 3, Split.TEST: 3}
        for split, count in per_split.items():
            for label in ("coffee", "other"):
                for _ in range(count):
                    labeled_image(target, label=label, split=split, seed=next(seeds) * 11)
        return target

    return make


def add_labeled(project: Project, *, count: int, split: str = Split.TRAIN, start: int = 5000):
    """Add `count` labeled images per class (distinct content from the fixture's)."""
    return [
        labeled_image(project, label=label, split=split, seed=start + i * 2 + j)
        for i in range(count)
        for j, label in enumerate(("coffee", "other"))
    ]


# ------------------------------------------------------------------------------------------
# Real workers
# ------------------------------------------------------------------------------------------


def database_url() -> str:
    """The test database, as a URL another process can open."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@dataclass
class WorkerProcess:
    name: str
    broker_url: str
    process: subprocess.Popen
    log_path: Path
    queues: str = "training,prediction"
    env: dict = field(default_factory=dict)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 30) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """SIGKILL: no chance to clean up, as when the kernel's OOM killer strikes."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


def wait_until(condition, *, timeout: float, interval: float = 0.2, message: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"Timed out after {timeout} s waiting for {message or condition}")


def worker_start(
    *,
    tmp_path: Path,
    broker_url: str | None = None,
    backbone: str = "tiny",
    name: str | None = None,
    queues: str = "training,prediction",
    wait_ready: bool = True,
    extra_env: dict | None = None,
) -> WorkerProcess:
    """Start `celery worker` (solo pool) on the test database, media and broker."""
    name = name or f"test-{uuid.uuid4().hex[:8]}@localhost"
    broker_url = broker_url or session_broker_url()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "labelplatform.settings.test",
        "DATABASE_URL": database_url(),
        "MEDIA_ROOT": settings.MEDIA_ROOT,
        "REDIS_URL": broker_url,
        "CELERY_BROKER_URL": broker_url,
        "CLASSIFIER_BACKBONE": backbone,
        "CLASSIFIER_WEIGHTS_DIR": settings.CLASSIFIER_WEIGHTS_DIR,
        "PYTHONUNBUFFERED": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        **(extra_env or {}),
    }
    log_path = tmp_path / f"{name.split('@')[0]}-{uuid.uuid4().hex[:6]}.log"
    command = [
        sys.executable, "-m", "celery", "-A", "labelplatform", "worker",
        "-Q", queues, "--pool=solo", "-n", name, "--loglevel=INFO",
        "--without-gossip", "--without-mingle",
    ]  # fmt: skip
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command, cwd=REPOSITORY, env=env, stdout=log, stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )  # fmt: skip
    worker = WorkerProcess(name, broker_url, process, log_path, queues, env)
    if wait_ready:
        worker_wait_ready(worker)
    return worker


@dataclass
class BeatProcess:
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def beat_start(*, tmp_path: Path, broker_url: str, extra_env: dict | None = None) -> BeatProcess:
    """Start `celery beat` as the run command does, sending to `broker_url`."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "labelplatform.settings.test",
        "DATABASE_URL": database_url(),
        "REDIS_URL": broker_url,
        "CELERY_BROKER_URL": broker_url,
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    log_path = tmp_path / f"beat-{uuid.uuid4().hex[:6]}.log"
    command = [sys.executable, "-m", "celery", "-A", "labelplatform", "beat", "--loglevel=INFO"]
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command, cwd=REPOSITORY, env=env, stdout=log, stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )  # fmt: skip
    beat = BeatProcess(process, log_path)
    wait_until(lambda: "beat: Starting..." in beat.log(), timeout=60, message="beat to start")
    return beat


@pytest.fixture
def start_beat(tmp_path) -> Iterator:
    """start_beat(broker_url=..., extra_env=...) -> BeatProcess; stopped after the test."""
    started: list[BeatProcess] = []

    def start(**options) -> BeatProcess:
        beat = beat_start(tmp_path=tmp_path, **options)
        started.append(beat)
        return beat

    yield start
    for beat in started:
        beat.stop()


def _die_with_parent() -> None:
    # Linux: SIGTERM the worker when the test process dies, even killed without teardown,
    # so no stray worker keeps consuming from the broker.
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def worker_wait_ready(worker: WorkerProcess, timeout: float = 120) -> None:
    def ready():
        if worker.process.poll() is not None:
            raise AssertionError(f"worker exited:\n{worker.log()[-5000:]}")
        return "ready." in worker.log()

    wait_until(ready, timeout=timeout, message=f"worker {worker.name} to be ready")


@pytest.fixture
def start_worker(tmp_path) -> Iterator:
    """start_worker(**options) -> WorkerProcess; every worker started is stopped after."""
    started: list[WorkerProcess] = []

    def start(**options) -> WorkerProcess:
        worker = worker_start(tmp_path=tmp_path, **options)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def queues_purge() -> None:
    """Drop messages a previous, interrupted test session left in the test broker."""
    with celery_app.connection_for_write() as connection_:
        for queue in ("training", "prediction"):
            with contextlib.suppress(Exception):  # the queue does not exist yet
                connection_.default_channel.queue_purge(queue)


@pytest.fixture(scope="session")
def session_worker(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator:
    """One worker on the tiny backbone for every test that just needs jobs to run."""
    queues_purge()
    worker = worker_start(tmp_path=tmp_path_factory.mktemp("worker"))
    yield worker
    worker.stop()


@pytest.fixture
def worker(session_worker, transactional_db) -> Iterator[WorkerProcess]:
    """The shared worker, for a transactional test (rows the worker must see are committed).

    After the test, waits (up to 30 s) for the jobs the worker was sent to finish, such as the
    re-prediction an activation queues: flushing the database under a running job deadlocks
    on PostgreSQL (TRUNCATE against the job's row locks)."""
    if session_worker.process.poll() is not None:
        pytest.fail(f"the shared worker died:\n{session_worker.log()[-5000:]}")
    yield session_worker
    with contextlib.suppress(AssertionError):
        wait_until(lambda: not jobs_in_flight(), timeout=30, message="jobs in flight")


def jobs_in_flight() -> bool:
    """Whether a job is running or sent to the broker and not yet taken."""
    return any(
        model.objects.filter(status=JobStatus.RUNNING).exists()
        or model.objects.filter(status=JobStatus.QUEUED, enqueued_at__isnull=False).exists()
        for model in (TrainingRun, PredictionJob)
    )


# ------------------------------------------------------------------------------------------
# A private Redis, for the broker-outage tests
# ------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class PrivateRedis:
    port: int
    folder: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent,
        )  # fmt: skip

        def answers():
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return True
            except OSError:
                return False

        wait_until(answers, timeout=10, message="redis-server to listen")

    def stop(self) -> None:
        """Stop it; its contents are gone (no persistence), as after a restart that lost them."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # a paused server ignores SIGTERM
            self.process.terminate()
            self.process.wait(10)

    def pause(self) -> None:
        """SIGSTOP: connections are still accepted (by the kernel) but never answered, as
        with a hung server or a network that drops packets."""
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def client(self):
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, db=0)


@pytest.fixture
def private_redis(tmp_path) -> Iterator[PrivateRedis]:
    """A redis-server on a free port, not started: the test starts and stops it."""
    redis = PrivateRedis(port=free_port(), folder=tmp_path)
    yield redis
    redis.stop()
    broker_use(session_broker_url())


@pytest.fixture
def broker_down():
    """The web side's broker is a port nothing listens on (for tests that run on_commit
    callbacks without a worker: their jobs stay queued, visibly unsent)."""
    broker_use(f"redis://127.0.0.1:{free_port()}/0")
    yield
    broker_use(session_broker_url())


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
