"""Jobs on their way to a worker: dispatch, failure, staleness, orphans, reconciliation.

A job (a TrainingRun or a PredictionJob row) is created first, then its message is sent
(`job_dispatch`): by task *name*, so the web never imports the worker code, through
`celery.current_app` (the project's app, labelplatform.celery, which loads the worker code in
worker processes: importing it from here would make an import cycle). When the broker is
unreachable the row stays queued with `dispatch_error` saying so, and is sent again by
`jobs_dispatch_unsent` (when a worker starts or reconnects, when the same training is asked
for again, and at every reconciliation). `jobs_reconcile`, run periodically by Celery beat,
also sends again the messages Redis lost and settles jobs whose worker died. Nothing is lost
silently.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from classifier import broker
from classifier.models import (
    HealthCheck,
    Job,
    JobStatus,
    ModelExport,
    ModelVersion,
    PredictionJob,
    PredictionJobKind,
    TrainingRun,
)
from classifier.signals import (
    health_check_finished,
    prediction_job_finished,
    signal_send_on_commit,
    training_run_finished,
)
from labeling.models import Image
from labelplatform.database_statistics import database_statistics_refresh_when_due

logger = logging.getLogger(__name__)

# The Celery task each kind of job runs, by name (classifier.worker.tasks defines them under
# these names; queued messages and beat's schedule use them, so they never change).
TASK_NAMES = {
    TrainingRun: "classifier.tasks.training_run_execute",
    PredictionJob: "classifier.tasks.prediction_job_execute",
    # "training_*": routed to the training queue (settings.CELERY_TASK_ROUTES).
    ModelExport: "classifier.tasks.training_model_export_execute",
    HealthCheck: "classifier.tasks.health_check_execute",
}
# Every kind of job, for the sweeps that look at all of them.
JOB_MODELS: tuple[
    type[TrainingRun] | type[PredictionJob] | type[ModelExport] | type[HealthCheck], ...
] = (TrainingRun, PredictionJob, ModelExport, HealthCheck)
# A job row of any kind.
AnyJobRow = TrainingRun | PredictionJob | ModelExport | HealthCheck
BROKER_UNREACHABLE_NOTE = (
    "Not sent to a worker yet: the job queue (Redis) could not be reached ({error}). The job "
    "stays queued and is sent as soon as the queue is back."
)
# Ad-hoc files are saved before their job's row commits: a file younger than this may belong
# to a job being created, so the sweep leaves it alone.
AD_HOC_FILES_GRACE = timedelta(hours=1)
# A training run saves its artifact inside the transaction that writes its version, a moment
# before the commit: an artifact younger than this may belong to a version being written.
ARTIFACT_ORPHAN_GRACE = timedelta(minutes=10)


# --------------------------------------------------------------------------------------
# Dispatch: a row first, then its message, and a record of whether the message went out.
# --------------------------------------------------------------------------------------


def job_dispatch(job: AnyJobRow, *, skip_unresponsive: bool = False) -> bool:
    """Send the job's message to the broker; record on the row whether that worked.

    Claims the row first (enqueued_at from NULL to now) so two callers never send one job
    twice; on failure puts the claim back and stores the reason. Never raises for broker
    errors: the row is the record. Returns whether the message was sent. With
    `skip_unresponsive` (requests), a broker that just timed out is not tried again
    (classifier.broker): the row is left unsent with the note, without waiting.
    """
    model = type(job)
    if skip_unresponsive and broker.broker_unresponsive():
        model.objects.filter(pk=job.pk, status=JobStatus.QUEUED, enqueued_at__isnull=True).update(
            dispatch_error=BROKER_UNREACHABLE_NOTE.format(error="it did not answer a moment ago")
        )
        return False
    # The task id is chosen here and written with the claim: one write per dispatch, not two
    # (a database write is a good part of an ad-hoc prediction's few tens of milliseconds).
    task_id = str(uuid.uuid4())
    claimed = model.objects.filter(
        pk=job.pk, status=JobStatus.QUEUED, enqueued_at__isnull=True
    ).update(
        enqueued_at=timezone.now(),
        dispatch_attempts=F("dispatch_attempts") + 1,
        celery_task_id=task_id,
        dispatch_error="",
    )
    if not claimed:
        return False
    try:
        limit = (
            settings.CLASSIFIER_TRAINING_TIME_LIMIT
            if model in (TrainingRun, ModelExport, HealthCheck)
            else settings.CLASSIFIER_PREDICTION_TIME_LIMIT
        )
        with broker.broker_call():
            current_app.send_task(
                TASK_NAMES[model],
                args=[job.pk],
                task_id=task_id,
                soft_time_limit=limit,
                time_limit=limit + settings.CLASSIFIER_HARD_TIME_LIMIT_GRACE,
            )
    except Exception as exc:  # kombu.OperationalError, redis errors, socket errors
        logger.warning("Could not enqueue %s %s: %s", model.__name__, job.pk, exc)
        model.objects.filter(pk=job.pk).update(
            enqueued_at=None,
            celery_task_id="",
            dispatch_error=BROKER_UNREACHABLE_NOTE.format(error=exc),
        )
        return False
    return True


def job_dispatch_on_commit(job: AnyJobRow) -> None:
    """Send the job's message once the current transaction commits (job_dispatch), never
    waiting on a broker that just timed out: this runs mostly inside a request."""
    transaction.on_commit(lambda: job_dispatch(job, skip_unresponsive=True))


def jobs_dispatch_unsent() -> int:
    """Send every queued job whose message never reached the broker. Returns how many went.

    Called when a worker starts or reconnects to the broker (classifier.worker), so a job
    asked for while Redis was down runs once it is back.
    """
    sent = 0
    for model in JOB_MODELS:
        for job in model.objects.filter(status=JobStatus.QUEUED, enqueued_at__isnull=True):
            sent += job_dispatch(job)
    return sent


# --------------------------------------------------------------------------------------
# Failure and staleness
# --------------------------------------------------------------------------------------


def job_fail(job: AnyJobRow, error: str) -> int:
    """Mark a running or queued job failed, unless it finished meanwhile. Returns 1 if so,
    and then sends its `*_finished` signal after commit (classifier.signals), if it has one."""
    failed = (
        type(job)
        .objects.filter(pk=job.pk, status__in=[JobStatus.QUEUED, JobStatus.RUNNING])
        .update(
            status=JobStatus.FAILED,
            error=error[:10_000],
            finished_at=timezone.now(),
            updated_at=timezone.now(),
        )
    )
    if failed:
        job_finished_signal_send(job)
    return failed


def job_finished_signal_send(job: AnyJobRow) -> None:
    """Tell other apps, after commit, that the job reached a final status (exports have no
    webhook event)."""
    if isinstance(job, TrainingRun):
        signal_send_on_commit(training_run_finished, TrainingRun, run_id=job.pk)
    elif isinstance(job, PredictionJob):
        signal_send_on_commit(prediction_job_finished, PredictionJob, job_id=job.pk)
    elif isinstance(job, HealthCheck):
        signal_send_on_commit(health_check_finished, HealthCheck, check_id=job.pk)


def job_is_stale(job: Job) -> bool:
    """Whether the job is running but its worker has been silent for longer than
    CLASSIFIER_JOB_HEARTBEAT_TIMEOUT (killed, out of memory, its machine gone)."""
    limit = timezone.now() - timedelta(seconds=settings.CLASSIFIER_JOB_HEARTBEAT_TIMEOUT)
    return job.status == JobStatus.RUNNING and (job.heartbeat_at or job.created_at) < limit


def job_worker_lost_message(job: Job) -> str:
    """The error of a job whose worker died under it."""
    return (
        f"The worker {job.worker or '(unknown)'} stopped while running this job (killed, out "
        "of memory or its machine went away). Nothing was saved; start a new run."
    )


# --------------------------------------------------------------------------------------
# Orphans and reconciliation
# --------------------------------------------------------------------------------------


def jobs_recover_orphans(*, worker: str = "") -> dict[str, int]:
    """Settle jobs whose worker died: running rows of `worker` (a worker starting under the
    name of one that was killed) and running rows anyone has left silent for longer than
    CLASSIFIER_JOB_HEARTBEAT_TIMEOUT. Training runs and prediction jobs go through
    job_worker_lost: training runs failed, prediction jobs queued and sent again until they
    reach their run cap. Health checks and exports are queued again: they write nothing
    until their end, so running them again is harmless.
    """
    stale = timezone.now() - timedelta(seconds=settings.CLASSIFIER_JOB_HEARTBEAT_TIMEOUT)
    orphaned = Q(status=JobStatus.RUNNING) & (Q(heartbeat_at__lt=stale) | Q(heartbeat_at=None))
    if worker:
        orphaned |= Q(status=JobStatus.RUNNING, worker=worker)
    counts = {"training_runs_failed": 0, "prediction_jobs_requeued": 0, "prediction_jobs_failed": 0}
    # (Health checks and exports count with the prediction jobs.)
    for model in JOB_MODELS:
        for job in model.objects.filter(orphaned):
            outcome = job_worker_lost(job)
            if outcome == "failed":
                key = "training_runs_failed" if model is TrainingRun else "prediction_jobs_failed"
                counts[key] += 1
            elif outcome == "requeued":
                counts["prediction_jobs_requeued"] += 1
    if counts["prediction_jobs_requeued"]:
        jobs_dispatch_unsent()
    return counts


def job_worker_lost(job: AnyJobRow) -> str:
    """Settle a running job whose worker died under it. Returns "failed", "requeued", or ""
    when the row had moved on meanwhile.

    A training run is failed with an error saying so (its version was never written: that
    happens in one unit at the end). A prediction job is queued again (writing its
    predictions twice is harmless) unless it has been run CLASSIFIER_JOB_MAX_RUNS times: a
    job that kills its worker every time is failed, with the image it was on named
    (the runs after the first go one image at a time, recording each before it starts).
    Health checks and exports are queued again under the same cap (their error then says
    only that the worker kept dying). The caller sends requeued jobs (jobs_dispatch_unsent).
    """
    if isinstance(job, TrainingRun):
        return "failed" if job_fail(job, job_worker_lost_message(job)) else ""
    if job.runs >= settings.CLASSIFIER_JOB_MAX_RUNS:
        error = (
            job_poisoned_message(job)
            if isinstance(job, PredictionJob)
            else f"Its worker died in each of its {job.runs} runs; not tried again. "
            + job_worker_lost_message(job)
        )
        return "failed" if job_fail(job, error) else ""
    requeued = (
        type(job)
        .objects.filter(pk=job.pk, status=JobStatus.RUNNING)
        .update(
            status=JobStatus.QUEUED, enqueued_at=None, heartbeat_at=None, updated_at=timezone.now()
        )
    )
    return "requeued" if requeued else ""


def job_poisoned_message(job: PredictionJob) -> str:
    """The error of a prediction job failed after its worker died in each of its runs."""
    what = "an input"
    if job.kind == PredictionJobKind.AD_HOC:
        if job.done < len(job.inputs):
            what = f"the file {job.inputs[job.done]['name']!r}"
    elif job.done < len(job.image_ids):
        image_id = job.image_ids[job.done]
        name = Image.objects.filter(pk=image_id).values_list("original_name", flat=True).first()
        what = f"image {image_id} ({name!r})" if name else f"image {image_id} (deleted since)"
    return (
        f"The worker died in each of this job's {job.runs} runs (killed, or out of memory), "
        f"the last time while on {what}. Not run again; {job.total - job.done} of "
        f"{job.total} inputs were left without a prediction."
    )


def jobs_reconcile() -> dict[str, int]:
    """Make sure every unfinished job is on its way to a worker; run periodically (Celery
    beat, every CLASSIFIER_JOB_RECONCILE_INTERVAL seconds, on a prediction worker).

    - Running jobs whose worker went silent are settled (jobs_recover_orphans): training
      runs failed, prediction jobs queued and sent again.
    - Queued jobs sent more than CLASSIFIER_JOB_RECONCILE_AFTER seconds ago whose message
      the broker no longer holds, neither waiting in a queue nor taken by a worker (Redis
      restarted without its data, or was flushed), are sent again with a new task id. A
      message taken between the two reads may be sent twice: harmless, the tasks are
      idempotent (the worker's claim of the row). Nothing is re-sent when the broker cannot
      be read.
    - Queued jobs never sent (the broker was down when they were asked for) are sent.
    - Ad-hoc files nothing needs any more are deleted (_ad_hoc_files_sweep).
    - Model artifacts no version points to are deleted (model_artifacts_orphaned_delete).
    - On SQLite, the query planner's statistics are refreshed once an hour
      (labelplatform.database_statistics).
    Returns what it did, as counts.
    """
    counts = dict(jobs_recover_orphans())
    counts["lost_messages_resent"] = _jobs_resend_lost()
    counts["unsent_sent"] = jobs_dispatch_unsent()
    counts["ad_hoc_files_deleted"] = _ad_hoc_files_sweep()
    counts["orphan_artifacts_deleted"] = model_artifacts_orphaned_delete()
    counts["database_statistics_refreshed"] = int(database_statistics_refresh_when_due())
    if any(value for key, value in counts.items() if key != "database_statistics_refreshed"):
        logger.warning("Reconciled jobs: %s", counts)
    return counts


def _jobs_resend_lost() -> int:
    sent_before = timezone.now() - timedelta(seconds=settings.CLASSIFIER_JOB_RECONCILE_AFTER)
    waiting = [
        job
        for model in JOB_MODELS
        for job in model.objects.filter(status=JobStatus.QUEUED, enqueued_at__lt=sent_before).only(
            "pk", "status", "enqueued_at", "celery_task_id"
        )
    ]
    if not waiting:
        return 0  # the usual case: no broker read at all
    queues = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    in_broker = broker.task_ids_in_broker(queues=queues)
    if in_broker is None:
        return 0
    resent = 0
    for job in waiting:
        if job.celery_task_id in in_broker:
            continue  # still waiting behind others, or in a worker's hands
        released = (
            type(job)
            .objects.filter(
                pk=job.pk,
                status=JobStatus.QUEUED,
                enqueued_at=job.enqueued_at,
                celery_task_id=job.celery_task_id,
            )
            .update(enqueued_at=None)
        )
        if released:
            logger.warning(
                "The broker lost the message of %s %s (task %s); sending it again",
                type(job).__name__,
                job.pk,
                job.celery_task_id,
            )
            job.enqueued_at = None
            resent += job_dispatch(job)
    return resent


def _ad_hoc_files_sweep() -> int:
    """Delete files under jobs/ that no queued or running ad-hoc job needs and that are
    older than AD_HOC_FILES_GRACE. A job deletes its own files when it finishes (or is run
    again after its worker died); what is left is from a job whose row went (its project
    deleted) or a request killed between saving the files and committing the job. Returns
    how many files went."""
    try:
        _, names = default_storage.listdir("jobs")
    except FileNotFoundError:
        return 0
    needed = {
        item["path"]
        for inputs in PredictionJob.objects.filter(
            kind=PredictionJobKind.AD_HOC, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
        ).values_list("inputs", flat=True)
        for item in inputs
    }
    old = timezone.now() - AD_HOC_FILES_GRACE
    deleted = 0
    for path in (f"jobs/{name}" for name in names):
        if path in needed or default_storage.get_modified_time(path) > old:
            continue
        default_storage.delete(path)
        deleted += 1
    return deleted


def model_artifacts_orphaned_delete(*, grace: timedelta = ARTIFACT_ORPHAN_GRACE) -> int:
    """Delete model artifacts (projects/<id>/models/*) that no ModelVersion points to and that
    are older than `grace`. Returns how many went.

    A training worker killed inside its final commit has saved the artifact but never
    committed the version; a project deleted leaves its versions' files. Neither is ever
    read again. Files are listed through the storage API, so this works on S3 too.
    """
    try:
        project_folders, _ = default_storage.listdir("projects")
    except FileNotFoundError:
        return 0
    referenced = set(ModelVersion.objects.values_list("artifact", flat=True))
    old = timezone.now() - grace
    deleted = 0
    for folder in project_folders:
        try:
            _, names = default_storage.listdir(f"projects/{folder}/models")
        except FileNotFoundError:
            continue
        for path in (f"projects/{folder}/models/{name}" for name in names):
            if path in referenced or default_storage.get_modified_time(path) > old:
                continue
            logger.warning("Deleting model artifact %s: no version points to it", path)
            default_storage.delete(path)
            deleted += 1
    return deleted
