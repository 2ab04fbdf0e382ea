"""A running job, from the worker's side: claiming its row, writing its progress.

The row is the truth (classifier.models.Job): the claim makes a re-delivered message a no-op,
each progress write is also the heartbeat that tells the reconciliation this worker is alive,
and a row that left "running" under the worker (cancelled, or failed as lost) stops the job at
its next progress write.
"""

from __future__ import annotations

import logging
import time
from typing import TypeVar

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from classifier.models import HealthCheck, JobStatus, ModelExport, PredictionJob, TrainingRun
from classifier.services.jobs import (
    job_is_stale,
    job_worker_lost,
)

logger = logging.getLogger(__name__)

# Progress is written at most this often (seconds); every write is also the heartbeat.
PROGRESS_INTERVAL = 1.0

# A training run or a prediction job (classifier.models.Job is their abstract base).
AnyJob = TypeVar("AnyJob", TrainingRun, PredictionJob, ModelExport, HealthCheck)


class JobAbandoned(Exception):
    """The job's row left "running" under the worker (cancelled, or failed as lost)."""


class JobTimeLimitExceeded(Exception):
    pass


class JobProgress:
    """Writes a running job's progress at most once a second; each write is a heartbeat.

    Raises JobAbandoned when the row is no longer running (someone cancelled it) and
    JobTimeLimitExceeded past the deadline, so the job stops at the next update.
    """

    def __init__(
        self, job: TrainingRun | PredictionJob | ModelExport | HealthCheck, *, time_limit: int
    ):
        self.model: (
            type[TrainingRun] | type[PredictionJob] | type[ModelExport] | type[HealthCheck]
        ) = type(job)
        self.pk = job.pk
        self.deadline = time.monotonic() + time_limit
        self.time_limit = time_limit
        # The claim has just written the heartbeat: a job done within a second (an ad-hoc
        # prediction) makes no progress write at all, only its final one.
        self.last_write = time.monotonic()

    def update(self, *, force: bool = False, **fields) -> None:
        now = time.monotonic()
        if now > self.deadline:
            raise JobTimeLimitExceeded(f"Time limit of {self.time_limit} s exceeded.")
        if not force and now - self.last_write < PROGRESS_INTERVAL:
            return
        self.last_write = now
        written = self.model.objects.filter(pk=self.pk, status=JobStatus.RUNNING).update(
            **fields, heartbeat_at=timezone.now(), updated_at=timezone.now()
        )
        if not written:
            raise JobAbandoned()


def job_claim(model: type[AnyJob], job_id: int, *, worker: str) -> AnyJob | None:
    """Mark the job running for this worker, or return None when there is nothing to do.

    Re-delivered messages make this the idempotency point: a finished job is left alone; a
    job running under a live worker (fresh heartbeat) is that worker's; a running job
    whose worker is this one or silent was orphaned by a dead worker: a training run is
    failed (it would start from scratch anyway, and the user should know), a prediction
    job is run again, up to CLASSIFIER_JOB_MAX_RUNS runs in all (job_worker_lost). Each
    claim counts one run.
    """
    # A prediction job runs with its version: fetched here, not by one more query later.
    queryset = model.objects.select_for_update(of=("self",))
    if model is PredictionJob:
        queryset = queryset.select_related("model_version")  # type: ignore[misc]
    with transaction.atomic():
        job = queryset.filter(pk=job_id).first()
        if job is None:
            logger.warning("%s %s no longer exists; nothing to do.", model.__name__, job_id)
            return None
        if job.is_finished:
            logger.info("%s %s is already %s; nothing to do.", model.__name__, job_id, job.status)
            return None
        if job.status == JobStatus.RUNNING:
            if job.worker != worker and not job_is_stale(job):
                logger.info("%s %s is running on %s.", model.__name__, job_id, job.worker)
                return None
            # Its worker died: a training run is failed, other jobs run again unless they
            # have reached their run cap (a prediction job's error names the image it was on).
            if model is TrainingRun or job.runs >= settings.CLASSIFIER_JOB_MAX_RUNS:
                job_worker_lost(job)
                return None
        now = timezone.now()
        job.status, job.started_at, job.finished_at = JobStatus.RUNNING, now, None
        job.worker, job.heartbeat_at, job.error = worker, now, ""
        job.runs += 1
        job.save(
            update_fields=[
                "status",
                "started_at",
                "finished_at",
                "worker",
                "heartbeat_at",
                "error",
                "runs",
                "updated_at",
            ]
        )
        return job


def job_let_go(model: type[AnyJob], job_id: int, *, worker: str) -> None:
    """Say that this worker is done with the job, however it ended: a last heartbeat. For a
    job cancelled while it ran, a heartbeat later than the cancel (finished_at) is how the
    Jobs page knows that the worker has actually stopped (classifier.selectors.jobs)."""
    model.objects.filter(pk=job_id, worker=worker).exclude(status=JobStatus.RUNNING).update(
        heartbeat_at=timezone.now()
    )
