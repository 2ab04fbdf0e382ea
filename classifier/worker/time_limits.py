"""Celery's time limits, enforced under the solo pool the workers run with.

Each job's message carries a soft and a hard limit (classifier.services.jobs.job_dispatch,
from CLASSIFIER_*_TIME_LIMIT). The prefork pool enforces them from its parent process; the solo
pool, which runs the task in the worker's own main thread, enforces neither. Here:

- Soft limit: an interval timer (SIGALRM) raises Celery's SoftTimeLimitExceeded in the task,
  wherever it is, even in code that writes no progress (a read that hangs, a long inference
  call once it returns). The pipelines fail the job with it, and the worker takes the next job.
- Hard limit: for a task that does not stop at the soft limit (stuck inside a call that never
  returns, or one that swallowed the exception), a watchdog thread fails the job's row, saying
  so, and kills the worker process (SIGKILL, as the prefork pool kills its child): nothing
  else can stop a thread. Whatever restarts workers (compose's restart policy, systemd)
  brings it back; its unacknowledged message is then a no-op (the row is finished).

The job's own progress writes check the soft limit too (classifier.worker.jobs.JobProgress).
"""

from __future__ import annotations

import logging
import os
import signal
import threading

from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import task_postrun, task_prerun, worker_init

from classifier.models import PredictionJob, TrainingRun
from classifier.services.jobs import TASK_NAMES, job_fail

logger = logging.getLogger(__name__)

MODELS_BY_TASK: dict[str, type[TrainingRun] | type[PredictionJob]] = {
    TASK_NAMES[TrainingRun]: TrainingRun,
    TASK_NAMES[PredictionJob]: PredictionJob,
}


class _State:
    enforce = False  # set at worker_init: solo pool only
    watchdog: threading.Timer | None = None
    soft_limit: float | None = None


def _pool_check(sender, **kwargs) -> None:
    from celery import concurrency

    pool = concurrency.get_implementation(sender.pool_cls)
    _State.enforce = pool.__module__ == "celery.concurrency.solo"


def _soft_limit_reached(signum, frame) -> None:
    raise SoftTimeLimitExceeded(f"Time limit of {_State.soft_limit:g} s exceeded.")


def _hard_limit_reached(task_name: str, job_id, hard: float) -> None:
    message = (
        f"Hard time limit of {hard:g} s exceeded: the job did not stop at its soft limit, so "
        "its worker was stopped (killed) and restarts."
    )
    logger.error("%s %s: %s", task_name, job_id, message)
    model = MODELS_BY_TASK.get(task_name)
    if model is not None and job_id is not None:
        try:
            job = model.objects.filter(pk=job_id).first()
            if job is not None:
                job_fail(job, message)
        finally:
            from django.db import connections

            connections.close_all()
    os.kill(os.getpid(), signal.SIGKILL)


def _limits_start(sender=None, task_id=None, task=None, args=None, **kwargs) -> None:
    if not _State.enforce or threading.current_thread() is not threading.main_thread():
        return
    hard, soft = (task.request.timelimit or (None, None)) if task else (None, None)
    hard = hard or task.app.conf.task_time_limit
    soft = soft or task.app.conf.task_soft_time_limit
    if soft:
        _State.soft_limit = float(soft)
        signal.signal(signal.SIGALRM, _soft_limit_reached)
        signal.setitimer(signal.ITIMER_REAL, float(soft))
    if hard:
        job_id = args[0] if args else None
        watchdog = threading.Timer(float(hard), _hard_limit_reached, (task.name, job_id, hard))
        watchdog.daemon = True
        watchdog.start()
        _State.watchdog = watchdog


def _limits_stop(**kwargs) -> None:
    if not _State.enforce or threading.current_thread() is not threading.main_thread():
        return
    signal.setitimer(signal.ITIMER_REAL, 0)
    if _State.watchdog is not None:
        _State.watchdog.cancel()
        _State.watchdog = None


def install() -> None:
    worker_init.connect(_pool_check, dispatch_uid="classifier-time-limits-pool")
    task_prerun.connect(_limits_start, dispatch_uid="classifier-time-limits-start")
    task_postrun.connect(_limits_stop, dispatch_uid="classifier-time-limits-stop")
