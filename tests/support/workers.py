"""Real `celery worker` and `celery beat` subprocesses, as deployed, on the test database.

Workers run the solo pool (as in production) and see the test database (tests pass
`transaction=True` to django_db so the rows they need are committed) and the test media
folder through their environment; they die with the test process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import connection

from classifier.models import JobStatus, PredictionJob, TrainingRun
from tests.support import REPOSITORY
from tests.support.broker import session_broker_url
from tests.support.processes import die_with_parent, process_stop, wait_until


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
        """SIGTERM: the worker finishes (or, solo pool, abandons) its job and exits."""
        process_stop(self.process, timeout=timeout)

    def kill(self) -> None:
        """SIGKILL: no chance to clean up, as when the kernel's OOM killer strikes."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


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
            preexec_fn=die_with_parent,
        )  # fmt: skip
    worker = WorkerProcess(name, broker_url, process, log_path, queues, env)
    if wait_ready:
        worker_wait_ready(worker)
    return worker


def worker_wait_ready(worker: WorkerProcess, timeout: float = 120) -> None:
    def ready() -> bool:
        if worker.process.poll() is not None:
            raise AssertionError(f"worker exited:\n{worker.log()[-5000:]}")
        return "ready." in worker.log()

    wait_until(ready, timeout=timeout, message=f"worker {worker.name} to be ready")


@dataclass
class BeatProcess:
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        process_stop(self.process, timeout=10)


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
            preexec_fn=die_with_parent,
        )  # fmt: skip
    beat = BeatProcess(process, log_path)
    wait_until(lambda: "beat: Starting..." in beat.log(), timeout=60, message="beat to start")
    return beat


def jobs_in_flight() -> bool:
    """Whether a job is running or sent to the broker and not yet taken."""
    return any(
        model.objects.filter(status=JobStatus.RUNNING).exists()
        or model.objects.filter(status=JobStatus.QUEUED, enqueued_at__isnull=False).exists()
        for model in (TrainingRun, PredictionJob)
    )
