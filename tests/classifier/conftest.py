"""Fixtures for the classifier: labeled projects, the test broker, real Celery workers.

The processes behind them (workers, beat, a private redis-server) are in tests/support/.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

import pytest

from labeling.models import Project, Split
from tests.support.broker import broker_use, queues_purge, session_broker_set, session_broker_url
from tests.support.labeled_images import labeled_image
from tests.support.processes import free_port, wait_until
from tests.support.redis_server import PrivateRedis
from tests.support.workers import (
    BeatProcess,
    WorkerProcess,
    beat_start,
    jobs_in_flight,
    worker_start,
)


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


@pytest.fixture(scope="session", autouse=True)
def session_broker(tmp_path_factory) -> Iterator[str]:
    """The broker of this session: REDIS_URL (the test command's, private to its run), else a
    redis-server of the session's own (see tests/support/redis_server.py for which binary)."""
    url, server = os.environ.get("REDIS_URL"), None
    if not url:
        server = PrivateRedis(folder=tmp_path_factory.mktemp("redis"))
        server.start()
        url = server.url
    session_broker_set(url)
    yield url
    if server:
        server.stop()


@pytest.fixture(autouse=True)
def _tiny_backbone(settings):
    # The real backbone only where a test asks for it (marked slow).
    settings.CLASSIFIER_BACKBONE = "tiny"


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


@pytest.fixture
def private_redis(tmp_path) -> Iterator[PrivateRedis]:
    """A redis-server on a free port, not started: the test starts and stops it."""
    redis = PrivateRedis(folder=tmp_path)
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
