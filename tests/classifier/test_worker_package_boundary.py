"""Only `celery worker` loads the classifier's worker package, and TensorFlow with it.

Celery beat runs from the same Celery app as the workers (`celery -A labelplatform beat`) but
only sends the reconciliation by task name: it must not load TensorFlow (hundreds of MB, in a
process that runs on the web image). Both are started here for real, each reporting on exit
which of its modules are TensorFlow's, Keras' or classifier.worker's; the worker is the
control that the report sees them when they are there. (The web process:
test_web_never_imports_tensorflow.py.)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.support import REPOSITORY
from tests.support.broker import session_broker_url
from tests.support.processes import die_with_parent, wait_until
from tests.support.workers import database_url

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# Runs the `celery` command line in this interpreter and, at exit, writes to the file named
# first what was imported, with the process's peak RSS.
REPORTING_CELERY = """
import atexit, json, resource, sys

report_path = sys.argv[1]

def report():
    watched = sorted(
        name for name in sys.modules
        if name.split(".")[0] in ("tensorflow", "keras") or name.startswith("classifier.worker")
    )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with open(report_path, "w") as out:
        json.dump({"modules": watched, "peak_rss_mb": peak_mb}, out)

atexit.register(report)
sys.argv = ["celery", *sys.argv[2:]]
from celery.__main__ import main
main()
"""


def run_until(tmp_path: Path, arguments: list[str], *, ready: str, env: dict) -> dict:
    """Start `celery ARGUMENTS`, wait for `ready` in its log, stop it with SIGTERM (as
    compose and the run command do), and return its report."""
    report_path = tmp_path / f"report-{uuid.uuid4().hex[:6]}.json"
    log_path = tmp_path / f"celery-{uuid.uuid4().hex[:6]}.log"
    command = [sys.executable, "-c", REPORTING_CELERY, str(report_path), *arguments]
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command, cwd=REPOSITORY, env=env, stdout=log, stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )  # fmt: skip
    try:

        def started() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"celery exited:\n{log_path.read_text()[-5000:]}")
            return ready in log_path.read_text(errors="replace")

        wait_until(started, timeout=120, message=f"{arguments[2]} to start")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
    return json.loads(report_path.read_text())


@pytest.fixture
def environment() -> dict:
    from django.conf import settings

    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "labelplatform.settings.test",
        "DATABASE_URL": database_url(),
        "MEDIA_ROOT": settings.MEDIA_ROOT,
        "CELERY_BROKER_URL": session_broker_url(),
        "REDIS_URL": session_broker_url(),
        "CLASSIFIER_BACKBONE": "tiny",
        "CLASSIFIER_WEIGHTS_DIR": settings.CLASSIFIER_WEIGHTS_DIR,
        "PYTHONUNBUFFERED": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }


def test_celery_beat_loads_neither_tensorflow_nor_the_worker_package(tmp_path, environment):
    report = run_until(
        tmp_path,
        ["-A", "labelplatform", "beat", "--loglevel=INFO"],
        ready="beat: Starting...",
        env=environment,
    )

    assert report["modules"] == []


def test_a_worker_loads_the_worker_package_and_tensorflow(tmp_path, environment):
    # A queue of its own: this worker must not take the shared worker's jobs.
    queue = f"boundary-{uuid.uuid4().hex[:8]}"
    report = run_until(
        tmp_path,
        ["-A", "labelplatform", "worker", "-Q", queue, "--pool=solo", "--loglevel=INFO",
         "-n", f"{queue}@localhost", "--without-gossip", "--without-mingle"],
        ready="ready.",
        env=environment,
    )  # fmt: skip

    assert {"classifier.worker", "classifier.worker.tasks", "tensorflow"} <= set(report["modules"])
