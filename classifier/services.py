"""Writes on the classifier side: training runs, model versions, prediction jobs.

Two kinds of functions live here:
- called by the web (views, API, admin, the retrain command): `training_run_start`,
  `training_run_cancel`, `model_version_activate`, `prediction_job_start`, ... They write
  rows and enqueue the Celery message after the transaction commits; they never import
  TensorFlow.
- called by workers (through classifier.tasks): `training_run_execute`,
  `prediction_job_execute`. They import classifier.ml, inside the function, through the
  per-process caches in classifier.worker.

A job row is created first, then its message is sent (`_job_dispatch`). When the broker is
unreachable the row stays queued with `dispatch_error` saying so, and is sent again by
`jobs_dispatch_unsent` (when a worker starts or reconnects, when the same training is asked
for again, and at every reconciliation). `jobs_reconcile`, run periodically by Celery beat,
also sends again the messages Redis lost and settles jobs whose worker died. Nothing is lost
silently.
"""

from __future__ import annotations

import hashlib
import io
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, BinaryIO

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Count, Exists, F, Max, OuterRef, Q
from django.utils import timezone
from PIL import Image as PILImage

from classifier import broker
from classifier.models import (
    Embedding,
    Job,
    JobStatus,
    ModelVersion,
    ModelVersionStatus,
    Prediction,
    PredictionJob,
    PredictionJobKind,
    TrainingPhase,
    TrainingRun,
)
from labeling.models import Image, LabelClass, LabelStatus, Project, Split

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)

# Settings of the write-up this platform grew from (Adam 1e-4, 5 epochs) leave a fresh head
# at about 0.84 on the coffee photos; 1e-3 with early stopping reaches 0.97-0.98.
DEFAULT_HYPERPARAMETERS = {
    "learning_rate": 1e-3,
    "batch_size": 32,
    "max_epochs": 200,
    "patience": 15,
    "seed": 0,
    # The slower mode (classifier.ml.fine_tuning): N > 0 also trains the backbone's top N
    # blocks (of 16, efficientnet_lite0 only) with classifier.ml's own learning rate, epochs and
    # patience for it. Off by default: on a few hundred photos it costs 20x the time for no
    # better accuracy (classifier/ml/README.md), but larger or unusual sets may gain from it.
    "fine_tune_blocks": 0,
}
FINE_TUNABLE_BACKBONE = "efficientnet_lite0"
FINE_TUNE_MAX_BLOCKS = 15
# Bounds a worker can honour: numpy's seeds are 32-bit, and a batch or an epoch count past
# these would only exhaust memory or the job's time limit.
_HYPERPARAMETER_RANGES = {
    "batch_size": (1, 4096),
    "max_epochs": (1, 10_000),
    "patience": (0, 10_000),
    "seed": (0, 2**32 - 1),
    "fine_tune_blocks": (0, FINE_TUNE_MAX_BLOCKS),
}
_TASK_NAMES = {
    TrainingRun: "classifier.tasks.training_run_execute",
    PredictionJob: "classifier.tasks.prediction_job_execute",
}
# Progress is written at most this often (seconds); every write is also the heartbeat.
_PROGRESS_INTERVAL = 1.0
BROKER_UNREACHABLE_NOTE = (
    "Not sent to a worker yet: the job queue (Redis) could not be reached ({error}). The job "
    "stays queued and is sent as soon as the queue is back."
)


# --------------------------------------------------------------------------------------
# Dispatch: a row first, then its message, and a record of whether the message went out.
# --------------------------------------------------------------------------------------


def _job_dispatch(job: TrainingRun | PredictionJob, *, skip_unresponsive: bool = False) -> bool:
    """Send the job's message to the broker; record on the row whether that worked.

    Claims the row first (enqueued_at from NULL to now) so two callers never send one job
    twice; on failure puts the claim back and stores the reason. Never raises for broker
    errors: the row is the record. Returns whether the message was sent. With
    `skip_unresponsive` (requests), a broker that just timed out is not tried again
    (classifier.broker): the row is left unsent with the note, without waiting.
    """
    from labelplatform.celery import app  # the web imports Celery lazily, like the workers

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
            if model is TrainingRun
            else settings.CLASSIFIER_PREDICTION_TIME_LIMIT
        )
        with broker.broker_call():
            app.send_task(
                _TASK_NAMES[model],
                args=[job.pk],
                task_id=task_id,
                soft_time_limit=limit,
                time_limit=limit + 60,
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


def _dispatch_on_commit(job: TrainingRun | PredictionJob) -> None:
    # Mostly inside a request, which must not wait on a broker that does not answer.
    transaction.on_commit(lambda: _job_dispatch(job, skip_unresponsive=True))


def jobs_dispatch_unsent() -> int:
    """Send every queued job whose message never reached the broker. Returns how many went.

    Called when a worker starts or reconnects to the broker (classifier.worker), so a job
    asked for while Redis was down runs once it is back.
    """
    sent = 0
    for model in (TrainingRun, PredictionJob):
        for job in model.objects.filter(status=JobStatus.QUEUED, enqueued_at__isnull=True):
            sent += _job_dispatch(job)
    return sent


def jobs_recover_orphans(*, worker: str = "") -> dict[str, int]:
    """Settle jobs whose worker died: running rows of `worker` (a worker starting under the
    name of one that was killed) and running rows anyone has left silent for longer than
    CLASSIFIER_JOB_HEARTBEAT_TIMEOUT.

    A training run is failed with an error saying so (its version was never written: that
    happens in one unit at the end). A prediction job is queued again and re-sent: writing
    its predictions twice is harmless.
    """
    stale = timezone.now() - timedelta(seconds=settings.CLASSIFIER_JOB_HEARTBEAT_TIMEOUT)
    orphaned = Q(status=JobStatus.RUNNING) & (Q(heartbeat_at__lt=stale) | Q(heartbeat_at=None))
    if worker:
        orphaned |= Q(status=JobStatus.RUNNING, worker=worker)
    failed = 0
    for run in TrainingRun.objects.filter(orphaned):
        failed += _job_fail(run, _worker_lost_message(run))
    requeued = PredictionJob.objects.filter(orphaned).update(
        status=JobStatus.QUEUED, enqueued_at=None, heartbeat_at=None, updated_at=timezone.now()
    )
    if requeued:
        jobs_dispatch_unsent()
    return {"training_runs_failed": failed, "prediction_jobs_requeued": requeued}


def jobs_reconcile() -> dict[str, int]:
    """Make sure every unfinished job is on its way to a worker; run periodically (Celery
    beat, every CLASSIFIER_JOB_RECONCILE_INTERVAL seconds, on a prediction worker).

    - Running jobs whose worker went silent are settled (jobs_recover_orphans): training
      runs failed, prediction jobs queued and sent again.
    - Queued jobs sent more than CLASSIFIER_JOB_RECONCILE_AFTER seconds ago whose message
      the broker no longer holds, neither waiting in a queue nor taken by a worker (Redis
      restarted without its data, or was flushed), are sent again with a new task id. A
      message taken between the two reads may be sent twice: harmless, the tasks are
      idempotent (_job_claim). Nothing is re-sent when the broker cannot be read.
    - Queued jobs never sent (the broker was down when they were asked for) are sent.
    - Ad-hoc files nothing needs any more are deleted (_ad_hoc_files_sweep).
    Returns what it did, as counts.
    """
    counts = dict(jobs_recover_orphans())
    counts["lost_messages_resent"] = _jobs_resend_lost()
    counts["unsent_sent"] = jobs_dispatch_unsent()
    counts["ad_hoc_files_deleted"] = _ad_hoc_files_sweep()
    if any(counts.values()):
        logger.warning("Reconciled jobs: %s", counts)
    return counts


def _jobs_resend_lost() -> int:
    sent_before = timezone.now() - timedelta(seconds=settings.CLASSIFIER_JOB_RECONCILE_AFTER)
    waiting = [
        job
        for model in (TrainingRun, PredictionJob)
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
            resent += _job_dispatch(job)
    return resent


# Ad-hoc files are saved before their job's row commits: a file younger than this may belong
# to a job being created, so the sweep leaves it alone.
AD_HOC_FILES_GRACE = timedelta(hours=1)


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


def _worker_lost_message(job: Job) -> str:
    return (
        f"The worker {job.worker or '(unknown)'} stopped while running this job (killed, out "
        "of memory or its machine went away). Nothing was saved; start a new run."
    )


def _job_fail(job: Job, error: str) -> int:
    """Mark a running or queued job failed, unless it finished meanwhile. Returns 1 if so."""
    return (
        type(job)
        .objects.filter(pk=job.pk, status__in=[JobStatus.QUEUED, JobStatus.RUNNING])
        .update(
            status=JobStatus.FAILED,
            error=error[:10_000],
            finished_at=timezone.now(),
            updated_at=timezone.now(),
        )
    )


# --------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------


@dataclass
class TrainingSet:
    """The labeled images a run trains on, in a fixed order, and what describes them."""

    class_ids: list[int]
    class_names: list[str]
    images: list[tuple[int, str, str, str, int]]  # (id, sha256, file name, split, class index)

    @property
    def counts(self) -> dict[str, dict[str, int]]:
        counts = {split: dict.fromkeys(self.class_names, 0) for split in Split.values}
        for _, _, _, split, index in self.images:
            counts[split][self.class_names[index]] += 1
        return counts

    @property
    def fingerprint(self) -> str:
        digest = hashlib.sha256("\n".join(self.class_names).encode())
        for _, sha256, _, split, index in sorted(self.images, key=lambda row: row[1]):
            digest.update(f"\n{sha256} {split} {index}".encode())
        return digest.hexdigest()


def training_set_for(*, project: Project) -> TrainingSet:
    """The project's labeled images and classes, as a run will see them."""
    classes = list(LabelClass.objects.filter(project=project).order_by("order", "id"))
    position = {label_class.pk: index for index, label_class in enumerate(classes)}
    rows = (
        Image.objects.filter(project=project, label_status=LabelStatus.LABELED, label__isnull=False)
        .order_by("pk")
        .values_list("pk", "sha256", "file", "split", "label_id")
    )
    return TrainingSet(
        class_ids=[label_class.pk for label_class in classes],
        class_names=[label_class.name for label_class in classes],
        images=[(pk, sha, name, split, position[label]) for pk, sha, name, split, label in rows],
    )


def _training_set_check(*, project: Project) -> None:
    """ValidationError unless the labeled images can train and measure a model."""
    names = dict(LabelClass.objects.filter(project=project).values_list("pk", "name"))
    counts = {
        (split, label): count
        for split, label, count in Image.objects.filter(
            project=project, label_status=LabelStatus.LABELED, label__isnull=False
        )
        .values_list("split", "label")
        .annotate(count=Count("pk"))
        .values_list("split", "label", "count")
    }
    missing = [name for pk, name in names.items() if not counts.get((Split.TRAIN, pk))]
    if missing:
        raise ValidationError(
            "Every class needs labeled training images before a model can be trained; none "
            f"yet for: {', '.join(missing)}."
        )
    for split in (Split.VALIDATION, Split.TEST):
        if not any(count for (in_split, _), count in counts.items() if in_split == split):
            raise ValidationError(
                f"The {split} split has no labeled images yet; training needs some to stop "
                "early (validation) and to measure the model (test)."
            )


def _hyperparameters_with_defaults(hyperparameters: dict | None) -> dict:
    given = dict(hyperparameters or {})
    unknown = set(given) - set(DEFAULT_HYPERPARAMETERS)
    if unknown:
        raise ValidationError(f"Unknown hyperparameter(s): {', '.join(sorted(unknown))}.")
    merged = {**DEFAULT_HYPERPARAMETERS, **given}
    try:
        merged["learning_rate"] = float(merged["learning_rate"])
        for key in ("batch_size", "max_epochs", "patience", "seed", "fine_tune_blocks"):
            merged[key] = int(merged[key])
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"Invalid hyperparameter: {exc}") from exc
    for key, (low, high) in _HYPERPARAMETER_RANGES.items():
        if not low <= merged[key] <= high:
            raise ValidationError(f"{key} must be between {low} and {high}.")
    if not 0 < merged["learning_rate"] < 1:
        raise ValidationError("learning_rate must be in (0, 1).")
    if merged["fine_tune_blocks"] and settings.CLASSIFIER_BACKBONE != FINE_TUNABLE_BACKBONE:
        raise ValidationError(
            f"Fine-tuning needs the {FINE_TUNABLE_BACKBONE} backbone; this platform uses "
            f"{settings.CLASSIFIER_BACKBONE}."
        )
    return merged


def _project_lock(project_id: int) -> None:
    # The project's row lock serializes what must happen one at a time per project: starting
    # a training, numbering and promoting a version, activating one. (On SQLite, where
    # FOR UPDATE does not exist, the IMMEDIATE transactions of the settings serialize them.)
    Project.objects.select_for_update().only("pk").get(pk=project_id)


def _stale(job: Job) -> bool:
    limit = timezone.now() - timedelta(seconds=settings.CLASSIFIER_JOB_HEARTBEAT_TIMEOUT)
    return job.status == JobStatus.RUNNING and (job.heartbeat_at or job.created_at) < limit


@transaction.atomic
def training_run_start(
    *,
    project: Project,
    requested_by: AbstractBaseUser | None,
    hyperparameters: dict | None = None,
) -> tuple[TrainingRun, bool]:
    """Ask for a retraining of the project's classifier. Returns (run, created).

    One training at a time per project: under the project's row lock, a queued or running
    run is returned instead of a new one (created=False); if that run's message never
    reached the broker it is sent again now. A running run whose worker has gone silent is
    failed first, so a dead worker never blocks retraining. A new run is queued and its
    message sent after commit. Raises ValidationError when the labeled images cannot train
    a model (a class without training images, no validation or test images).
    """
    _project_lock(project.pk)
    existing = TrainingRun.objects.filter(
        project=project, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
    ).first()
    if existing is not None and _stale(existing):
        _job_fail(existing, _worker_lost_message(existing))
        existing = None
    if existing is not None:
        if existing.status == JobStatus.QUEUED and existing.enqueued_at is None:
            _dispatch_on_commit(existing)
        return existing, False

    _training_set_check(project=project)
    run = TrainingRun.objects.create(
        project=project,
        requested_by=requested_by,
        hyperparameters={
            **_hyperparameters_with_defaults(hyperparameters),
            "backbone": settings.CLASSIFIER_BACKBONE,
        },
    )
    _dispatch_on_commit(run)
    return run, True


@transaction.atomic
def training_run_cancel(*, run: TrainingRun) -> TrainingRun:
    """Cancel a queued or running run. A running one stops at its next progress update and
    writes no version. A finished run is left as it is."""
    TrainingRun.objects.filter(pk=run.pk, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).update(
        status=JobStatus.CANCELLED, finished_at=timezone.now(), updated_at=timezone.now()
    )
    run.refresh_from_db()
    return run


class JobAbandoned(Exception):
    """The job's row left "running" under the worker (cancelled, or failed as lost)."""


class JobTimeLimitExceeded(Exception):
    pass


class _JobProgress:
    """Writes a running job's progress at most once a second; each write is a heartbeat.

    Raises JobAbandoned when the row is no longer running (someone cancelled it) and
    JobTimeLimitExceeded past the deadline, so the job stops at the next update.
    """

    def __init__(self, job: Job, *, time_limit: int):
        self.model, self.pk = type(job), job.pk
        self.deadline = time.monotonic() + time_limit
        self.time_limit = time_limit
        # The claim has just written the heartbeat: a job done within a second (an ad-hoc
        # prediction) makes no progress write at all, only its final one.
        self.last_write = time.monotonic()

    def update(self, *, force: bool = False, **fields) -> None:
        now = time.monotonic()
        if now > self.deadline:
            raise JobTimeLimitExceeded(f"Time limit of {self.time_limit} s exceeded.")
        if not force and now - self.last_write < _PROGRESS_INTERVAL:
            return
        self.last_write = now
        written = self.model.objects.filter(pk=self.pk, status=JobStatus.RUNNING).update(
            **fields, heartbeat_at=timezone.now(), updated_at=timezone.now()
        )
        if not written:
            raise JobAbandoned()


def _job_claim(model: type[Job], job_id: int, *, worker: str) -> Job | None:
    """Mark the job running for this worker, or return None when there is nothing to do.

    Re-delivered messages make this the idempotency point: a finished job is left alone; a
    job running under a live worker (fresh heartbeat) is that worker's; a running job
    whose worker is this one or silent was orphaned by a dead worker: a training run is
    failed (it would start from scratch anyway, and the user should know), a prediction
    job is simply run again.
    """
    # A prediction job runs with its version: fetched here, not by one more query later.
    queryset = model.objects.select_for_update(of=("self",))
    if model is PredictionJob:
        queryset = queryset.select_related("model_version")
    with transaction.atomic():
        job = queryset.filter(pk=job_id).first()
        if job is None:
            logger.warning("%s %s no longer exists; nothing to do.", model.__name__, job_id)
            return None
        if job.is_finished:
            logger.info("%s %s is already %s; nothing to do.", model.__name__, job_id, job.status)
            return None
        if job.status == JobStatus.RUNNING:
            if job.worker != worker and not _stale(job):
                logger.info("%s %s is running on %s.", model.__name__, job_id, job.worker)
                return None
            if model is TrainingRun:
                _job_fail(job, _worker_lost_message(job))
                return None
        now = timezone.now()
        job.status, job.started_at, job.finished_at = JobStatus.RUNNING, now, None
        job.worker, job.heartbeat_at, job.error = worker, now, ""
        job.save(
            update_fields=[
                "status",
                "started_at",
                "finished_at",
                "worker",
                "heartbeat_at",
                "error",
                "updated_at",
            ]
        )
        return job


def _read_file(name: str) -> bytes:
    try:
        with default_storage.open(name, "rb") as stored:
            return stored.read()
    except FileNotFoundError as exc:
        raise FileNotFoundError(_missing_file_message(name)) from exc


def _missing_file_message(name: str) -> str:
    # The likeliest cause is a worker on another machine configured with storage of its own:
    # say where it looked and what web and workers must share.
    if getattr(default_storage, "bucket_name", None):
        where = f"bucket {default_storage.bucket_name}"
    elif getattr(default_storage, "location", None):
        where = f"folder {default_storage.location}"
    else:
        where = type(default_storage).__name__
    return (
        f"{name} is not in this worker's media storage ({where}). The web and every worker "
        "must use the same storage: the same object store (AWS_STORAGE_BUCKET_NAME and the "
        "other AWS_ variables) or, all on one machine, the same MEDIA_ROOT."
    )


def embeddings_for(
    *,
    backbone,
    items: Sequence[tuple[str, str]],
    on_batch: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Embeddings of stored images, (sha256, file name) pairs, in order. Worker-side.

    Reads the cache (Embedding rows of this backbone) and embeds only the images missing
    from it, in batches of CLASSIFIER_INFERENCE_BATCH_SIZE, adding them to the cache.
    `on_batch(done, missing)` is called after each batch.
    """
    import numpy as np

    wanted = list(dict.fromkeys(sha for sha, _ in items))
    vectors: dict[str, np.ndarray] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        for sha, blob in Embedding.objects.filter(
            backbone=backbone.name, sha256__in=chunk
        ).values_list("sha256", "vector"):
            vectors[sha] = np.frombuffer(bytes(blob), dtype="<f4")
    missing = list({sha: name for sha, name in items if sha not in vectors}.items())
    batch_size = settings.CLASSIFIER_INFERENCE_BATCH_SIZE
    for start in range(0, len(missing), batch_size):
        batch = missing[start : start + batch_size]
        embedded = backbone.embed([_read_file(name) for _, name in batch])
        rows = []
        for (sha, _), vector in zip(batch, embedded, strict=True):
            vector = np.asarray(vector, dtype="<f4")
            vectors[sha] = vector
            rows.append(
                Embedding(
                    sha256=sha, backbone=backbone.name, dim=vector.size, vector=vector.tobytes()
                )
            )
        Embedding.objects.bulk_create(rows, ignore_conflicts=True)
        if on_batch:
            on_batch(start + len(batch), len(missing))
    if not items:
        return np.zeros((0, backbone.embedding_dim), dtype=np.float32)
    return np.stack([vectors[sha] for sha, _ in items]).astype(np.float32)


def training_run_execute(*, run_id: int, worker: str = "") -> None:
    """Run a queued training (worker-side): embed, train, evaluate, write the version.

    Writes progress (phase, epoch, 0-100) to the run row at most once a second. Embeds the
    labeled images through the embedding cache, so a retrain embeds only new images; trains
    a head on the train split with early stopping on validation; evaluates on test. At the
    end, in one transaction: the artifact, the ModelVersion and its promotion (active when
    there is no active version or it beats the active one on validation accuracy, else a
    candidate with the reason), the run marked succeeded. A failure anywhere marks the run
    failed with the error and leaves every version as it was. Idempotent: see _job_claim.
    After commit, a promoted version re-predicts the project's images.
    """
    run = _job_claim(TrainingRun, run_id, worker=worker)
    if run is None:
        return
    progress = _JobProgress(run, time_limit=settings.CLASSIFIER_TRAINING_TIME_LIMIT)
    try:
        _training_run_train(run, progress)
    except JobAbandoned:
        logger.info("Training run %s was cancelled or taken away; stopping.", run_id)
    except Exception as exc:
        logger.exception("Training run %s failed", run_id)
        _job_fail(run, f"{type(exc).__name__}: {exc}")


def _training_run_train(run: TrainingRun, progress: _JobProgress) -> None:
    import numpy as np

    from classifier import worker as worker_runtime
    from classifier.ml import evaluate, train_head

    started = time.monotonic()
    hyperparameters = {**DEFAULT_HYPERPARAMETERS, **run.hyperparameters}
    backbone_name = hyperparameters.pop("backbone", settings.CLASSIFIER_BACKBONE)
    _training_set_check(project=run.project)
    training_set = training_set_for(project=run.project)
    progress.update(force=True, phase=TrainingPhase.EMBEDDING, progress=1)

    backbone = worker_runtime.loaded_backbone(backbone_name)
    cached_before = Embedding.objects.filter(
        backbone=backbone.name, sha256__in=[row[1] for row in training_set.images]
    ).count()
    labels = np.array([row[4] for row in training_set.images], dtype=np.int64)
    splits = np.array([row[3] for row in training_set.images])
    y = {split: labels[splits == split] for split in Split.values}
    if hyperparameters["fine_tune_blocks"]:
        # The top blocks change, so neither the cached embeddings nor new ones serve: the
        # photos themselves go through the frozen lower blocks inside fine_tune.
        cached_before = 0
        blobs = _files_read(
            [row[2] for row in training_set.images],
            on_read=lambda done, total: progress.update(progress=1 + int(19 * done / total)),
        )
        images = {split: [b for b, s in zip(blobs, splits, strict=True) if s == split]
                  for split in Split.values}  # fmt: skip
        embedded_at = time.monotonic()
        progress.update(force=True, phase=TrainingPhase.TRAINING, progress=20, epoch=0)
        head = _fine_tuned_head(backbone, images, y, training_set, hyperparameters, progress)

        def probabilities_of(split: str):
            return head.predict_images(backbone, images[split])
    else:
        embeddings = embeddings_for(
            backbone=backbone,
            items=[(sha, name) for _, sha, name, _, _ in training_set.images],
            on_batch=lambda done, total: progress.update(progress=1 + int(59 * done / total)),
        )
        embedded_at = time.monotonic()
        x = {split: embeddings[splits == split] for split in Split.values}
        progress.update(force=True, phase=TrainingPhase.TRAINING, progress=60, epoch=0)
        head = train_head(
            train_x=x[Split.TRAIN],
            train_y=y[Split.TRAIN],
            val_x=x[Split.VALIDATION],
            val_y=y[Split.VALIDATION],
            num_classes=len(training_set.class_ids),
            learning_rate=hyperparameters["learning_rate"],
            batch_size=hyperparameters["batch_size"],
            max_epochs=hyperparameters["max_epochs"],
            patience=hyperparameters["patience"],
            seed=hyperparameters["seed"],
            on_epoch=_EpochProgress(progress, hyperparameters),
        )

        def probabilities_of(split: str):
            return head.predict_proba(x[split])

    trained_at = time.monotonic()
    epochs_run = len(head.history.get("loss", []))
    progress.update(force=True, phase=TrainingPhase.EVALUATING, progress=95, epoch=epochs_run)
    names = training_set.class_names
    metrics = evaluate(probabilities_of(Split.TEST), y[Split.TEST], names)
    validation = evaluate(probabilities_of(Split.VALIDATION), y[Split.VALIDATION], names)
    metrics.update(
        validation_accuracy=validation["accuracy"],
        validation_loss=validation["loss"],
        history=head.history,
        best_epoch=head.best_epoch,
        class_names=names,
        timings={
            "embedding_s": round(embedded_at - started, 3),
            "training_s": round(trained_at - embedded_at, 3),
            "evaluating_s": round(time.monotonic() - trained_at, 3),
        },
        embedded={"cached": cached_before, "new": len(training_set.images) - cached_before},
    )
    progress.update(force=True, progress=99)
    _training_run_finish(
        run=run,
        backbone=backbone.name,
        artifact=head.to_bytes(),
        metrics=_json_safe(metrics),
        hyperparameters={**hyperparameters, **getattr(head, "hyperparameters", {})},
        training_set=training_set,
    )


def _files_read(names: Sequence[str], *, on_read=None) -> list[bytes]:
    blobs = []
    for name in names:
        blobs.append(_read_file(name))
        if on_read is not None:
            on_read(len(blobs), len(names))
    return blobs


def _fine_tuned_head(backbone, images, y, training_set, hyperparameters, progress):
    from classifier.ml import fine_tune
    from classifier.ml.fine_tuning import DEFAULT_MAX_EPOCHS, DEFAULT_PATIENCE

    return fine_tune(
        backbone,
        train_images=images[Split.TRAIN],
        train_y=y[Split.TRAIN],
        val_images=images[Split.VALIDATION],
        val_y=y[Split.VALIDATION],
        num_classes=len(training_set.class_ids),
        trainable_blocks=hyperparameters["fine_tune_blocks"],
        batch_size=hyperparameters["batch_size"],
        seed=hyperparameters["seed"],
        on_epoch=_EpochProgress(
            progress,
            {"max_epochs": DEFAULT_MAX_EPOCHS, "patience": DEFAULT_PATIENCE},
            start_percent=20,
        ),
    )


class _EpochProgress:
    """on_epoch for train_head (epochs counted from 1): progress 60-95 through training.

    Early stopping ends training `patience` epochs after the best validation loss, usually
    long before max_epochs, so the expected end moves with the best epoch; progress never
    goes backwards.
    """

    def __init__(self, progress: _JobProgress, hyperparameters: dict, *, start_percent=60):
        self.progress = progress
        self.max_epochs, self.patience = hyperparameters["max_epochs"], hyperparameters["patience"]
        self.best_loss, self.best_epoch = float("inf"), 0
        self.start, self.percent = start_percent, start_percent

    def __call__(self, epoch: int, logs: dict) -> None:
        if logs.get("val_loss", float("inf")) < self.best_loss:
            self.best_loss, self.best_epoch = logs["val_loss"], epoch
        expected_end = min(self.max_epochs, max(epoch, self.best_epoch + self.patience))
        self.percent = max(self.percent, self.start + int((95 - self.start) * epoch / expected_end))
        self.progress.update(epoch=epoch, progress=min(self.percent, 95))


def _json_safe(value):
    """numpy scalars and arrays → plain JSON values."""
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    if hasattr(value, "tolist"):
        return _json_safe(value.tolist())
    return value


def _training_run_finish(
    *,
    run: TrainingRun,
    backbone: str,
    artifact: bytes,
    metrics: dict,
    hyperparameters: dict,
    training_set: TrainingSet,
) -> None:
    # Everything a finished run leaves behind is written here, in one unit: a worker killed
    # before this commit leaves no version (only, at worst, an orphaned artifact file).
    stored_name = None
    try:
        with transaction.atomic():
            _project_lock(run.project_id)
            locked = TrainingRun.objects.select_for_update().only("status").get(pk=run.pk)
            if locked.status != JobStatus.RUNNING:
                raise JobAbandoned()
            number = (
                ModelVersion.objects.filter(project_id=run.project_id).aggregate(Max("version"))[
                    "version__max"
                ]
                or 0
            ) + 1
            version = ModelVersion(
                project_id=run.project_id,
                version=number,
                backbone=backbone,
                class_ids=training_set.class_ids,
                metrics=metrics,
                validation_accuracy=metrics["validation_accuracy"],
                test_accuracy=metrics["accuracy"],
                hyperparameters=hyperparameters,
                counts=training_set.counts,
                training_set_fingerprint=training_set.fingerprint,
                training_run=run,
            )
            version.artifact.save("head.bin", ContentFile(artifact), save=False)
            stored_name = version.artifact.name
            active = ModelVersion.objects.filter(
                project_id=run.project_id, status=ModelVersionStatus.ACTIVE
            ).first()
            promote = active is None or version.validation_accuracy > (
                active.validation_accuracy or 0
            )
            accuracy = f"validation accuracy {version.validation_accuracy:.3f}"
            if active is None:
                version.status_reason = f"Activated: first version ({accuracy})."
            elif promote:
                version.status_reason = (
                    f"Activated: {accuracy} beat v{active.version}'s "
                    f"{active.validation_accuracy:.3f}."
                )
                active.status = ModelVersionStatus.RETIRED
                active.status_reason = f"Retired: v{number} had a better validation accuracy."
                active.save(update_fields=["status", "status_reason"])
            else:
                version.status_reason = (
                    f"Candidate: {accuracy} did not beat active v{active.version}'s "
                    f"{active.validation_accuracy:.3f}."
                )
            if promote:
                version.status, version.activated_at = ModelVersionStatus.ACTIVE, timezone.now()
            version.save()
            now = timezone.now()
            TrainingRun.objects.filter(pk=run.pk).update(
                status=JobStatus.SUCCEEDED,
                progress=100,
                finished_at=now,
                heartbeat_at=now,
                updated_at=now,
            )
            if promote:
                transaction.on_commit(lambda: project_predictions_refresh(model_version=version))
    except BaseException:
        if stored_name:
            default_storage.delete(stored_name)
        raise


# --------------------------------------------------------------------------------------
# Model versions
# --------------------------------------------------------------------------------------


@transaction.atomic
def model_version_activate(
    *, model_version: ModelVersion, activated_by: AbstractBaseUser | None
) -> ModelVersion:
    """Make the version its project's active one; this is also the rollback.

    Retires the previously active version (one active per project, under the project's
    row lock) and cancels queued re-predictions for other versions. After commit, queues
    prediction jobs for the project's images this version has not predicted yet; the
    prediction workers load its head from storage by id. Activating the active version
    changes nothing. Permission (owners, staff) is the caller's check.
    """
    _project_lock(model_version.project_id)
    model_version.refresh_from_db()
    if model_version.status == ModelVersionStatus.ACTIVE:
        return model_version
    who = f" by {activated_by}" if activated_by else ""
    ModelVersion.objects.filter(
        project_id=model_version.project_id, status=ModelVersionStatus.ACTIVE
    ).update(
        status=ModelVersionStatus.RETIRED,
        status_reason=f"Retired: v{model_version.version} was activated{who}.",
    )
    model_version.status = ModelVersionStatus.ACTIVE
    model_version.status_reason = f"Activated{who}."
    model_version.activated_at = timezone.now()
    model_version.activated_by = activated_by
    model_version.save(update_fields=["status", "status_reason", "activated_at", "activated_by"])
    PredictionJob.objects.filter(
        project_id=model_version.project_id,
        kind=PredictionJobKind.REPREDICT,
        status=JobStatus.QUEUED,
    ).exclude(model_version=model_version).update(
        status=JobStatus.CANCELLED,
        finished_at=timezone.now(),
        error=f"Superseded: v{model_version.version} was activated.",
    )
    transaction.on_commit(lambda: project_predictions_refresh(model_version=model_version))
    return model_version


# --------------------------------------------------------------------------------------
# Prediction jobs
# --------------------------------------------------------------------------------------


def _active_version(project: Project | int) -> ModelVersion | None:
    project_id = project if isinstance(project, int) else project.pk
    return ModelVersion.objects.filter(
        project_id=project_id, status=ModelVersionStatus.ACTIVE
    ).first()


@transaction.atomic
def project_predictions_refresh(*, model_version: ModelVersion) -> list[PredictionJob]:
    """Queue prediction jobs for the project's images the version has not predicted yet.

    Jobs of at most CLASSIFIER_PREDICTION_JOB_SIZE images each, so several prediction
    workers share a large project. Predictions are deterministic per (image, version), so
    images it already predicted (e.g. before a rollback) are not predicted again.
    """
    image_ids = list(
        Image.objects.filter(project_id=model_version.project_id)
        .exclude(
            Exists(Prediction.objects.filter(image=OuterRef("pk"), model_version=model_version))
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    size = settings.CLASSIFIER_PREDICTION_JOB_SIZE
    return [
        _prediction_job_create(
            model_version=model_version,
            kind=PredictionJobKind.REPREDICT,
            image_ids=image_ids[start : start + size],
            requested_by=None,
        )
        for start in range(0, len(image_ids), size)
    ]


def _prediction_job_create(
    *,
    model_version: ModelVersion,
    kind: str,
    image_ids: Sequence[int] = (),
    inputs: Sequence[dict] = (),
    requested_by: AbstractBaseUser | None,
) -> PredictionJob:
    job = PredictionJob.objects.create(
        project_id=model_version.project_id,
        model_version=model_version,
        kind=kind,
        image_ids=list(image_ids),
        inputs=list(inputs),
        total=len(image_ids) + len(inputs),
        requested_by=requested_by,
    )
    _dispatch_on_commit(job)
    return job


@dataclass
class AdHocFile:
    name: str
    file: BinaryIO


def _ad_hoc_check(upload: AdHocFile) -> bytes:
    data = upload.file.read()
    if len(data) > settings.IMAGE_MAX_BYTES:
        raise ValidationError(f"{upload.name}: larger than {settings.IMAGE_MAX_BYTES} bytes.")
    try:
        with PILImage.open(io.BytesIO(data)) as picture:
            if picture.width * picture.height > settings.IMAGE_MAX_PIXELS:
                raise ValidationError(
                    f"{upload.name}: more than {settings.IMAGE_MAX_PIXELS} pixels."
                )
            picture.verify()
    except ValidationError:
        raise
    except Exception as exc:
        raise ValidationError(f"{upload.name}: not an image Pillow can read ({exc}).") from exc
    return data


def prediction_job_start(
    *,
    project: Project,
    requested_by: AbstractBaseUser | None,
    image_ids: Sequence[int] | None = None,
    files: Iterable[AdHocFile] | None = None,
    kind: str | None = None,
    model_version: ModelVersion | None = None,
) -> PredictionJob:
    """Queue a prediction of the project's stored images or of ad-hoc files.

    With `image_ids` (images of other projects are refused), the job writes one Prediction
    per (image, version). With `files`, each is checked with Pillow and stored temporarily
    through the storage API under jobs/ (not as training data); the job puts its results in
    the row and deletes the files. The version defaults to the project's active one;
    ValidationError when there is none. The message is sent after commit.
    """
    model_version = model_version or _active_version(project)
    if model_version is None or model_version.project_id != project.pk:
        raise ValidationError("This project has no active model yet; train one first.")
    if (image_ids is None) == (files is None):
        raise ValidationError("Give either image_ids or files.")
    if image_ids is not None:
        try:
            wanted = {int(pk) for pk in image_ids}
        except (TypeError, ValueError) as exc:
            raise ValidationError("image_ids must be a list of integers.") from exc
        found = set(
            Image.objects.filter(project=project, pk__in=wanted).values_list("pk", flat=True)
        )
        if not found or found != wanted:
            unknown = sorted(wanted - found)
            raise ValidationError(
                f"Unknown image id(s) in this project: {', '.join(map(str, unknown[:20]))}."
                if unknown
                else "Give at least one image id."
            )
        with transaction.atomic():
            return _prediction_job_create(
                model_version=model_version,
                kind=kind or PredictionJobKind.SELECTED,
                image_ids=sorted(found),
                requested_by=requested_by,
            )

    checked = [(upload.name, _ad_hoc_check(upload)) for upload in files]
    if not checked:
        raise ValidationError("Give at least one file.")
    # Flat names, not a folder per job: on a file system a folder would be created for every
    # request and stay behind, empty, once the job deletes its files.
    prefix = f"jobs/{uuid.uuid4().hex}"
    inputs = []
    try:
        for index, (name, data) in enumerate(checked):
            path = default_storage.save(f"{prefix}-{index}", ContentFile(data))
            inputs.append({"name": name, "path": path})
        with transaction.atomic():
            return _prediction_job_create(
                model_version=model_version,
                kind=PredictionJobKind.AD_HOC,
                inputs=inputs,
                requested_by=requested_by,
            )
    except BaseException:
        for stored in inputs:
            default_storage.delete(stored["path"])
        raise


def _new_images_predict(sender, *, project: Project, image_ids: Sequence[int], **kwargs) -> None:
    """Receiver of labeling.signals.images_created: the active version predicts new images."""
    model_version = _active_version(project)
    if model_version is None or not image_ids:
        return
    try:
        prediction_job_start(
            project=project,
            requested_by=None,
            image_ids=image_ids,
            kind=PredictionJobKind.NEW_IMAGES,
            model_version=model_version,
        )
    except Exception:
        # The upload has already succeeded; a missing prediction is filled in by the next
        # activation's refresh, so this must not turn the upload into an error.
        logger.exception("Could not queue the prediction of new images in project %s", project.pk)


def prediction_job_execute(*, job_id: int, worker: str = "") -> None:
    """Run a queued prediction job (worker-side).

    Stored images: batches of CLASSIFIER_INFERENCE_BATCH_SIZE through the embedding cache
    and the version's head, one Prediction per (image, version) upserted, progress and
    done counts after each batch. Ad-hoc files: results in the row, files deleted from
    storage whatever happens. Timings (ms) in `timings`. Failure: the row says why.
    Idempotent: see _job_claim; running it twice writes the same predictions.
    """
    job = _job_claim(PredictionJob, job_id, worker=worker)
    if job is None:
        return
    progress = _JobProgress(job, time_limit=settings.CLASSIFIER_PREDICTION_TIME_LIMIT)
    try:
        timings = _prediction_job_predict(job, progress)
        now = timezone.now()
        PredictionJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
            status=JobStatus.SUCCEEDED,
            progress=100,
            done=job.total,
            timings=timings,
            results=job.results,
            finished_at=now,
            heartbeat_at=now,
            updated_at=now,
        )
    except JobAbandoned:
        logger.info("Prediction job %s was cancelled; stopping.", job_id)
    except Exception as exc:
        logger.exception("Prediction job %s failed", job_id)
        _job_fail(job, f"{type(exc).__name__}: {exc}")
    finally:
        for stored in job.inputs:
            default_storage.delete(stored["path"])


def _class_names_of(model_version: ModelVersion) -> tuple[list[LabelClass | None], list[str]]:
    # Current names, so a renamed class shows its new name; the training-time name if the
    # class was deleted since.
    classes = LabelClass.objects.in_bulk(model_version.class_ids)
    trained_names = model_version.metrics.get("class_names") or [
        str(pk) for pk in model_version.class_ids
    ]
    ordered = [classes.get(pk) for pk in model_version.class_ids]
    names = [c.name if c else trained for c, trained in zip(ordered, trained_names, strict=True)]
    return ordered, names


def _prediction_job_predict(job: PredictionJob, progress: _JobProgress) -> dict[str, float]:
    from classifier import worker as worker_runtime

    timings: dict[str, float] = {}
    clock = time.perf_counter()
    model_version = job.model_version
    head = worker_runtime.loaded_head(model_version)
    backbone = worker_runtime.loaded_backbone(model_version.backbone)
    timings["load_model_ms"] = (time.perf_counter() - clock) * 1000
    classes, names = _class_names_of(model_version)
    timings.update(read_ms=0.0, inference_ms=0.0, write_ms=0.0)

    batch_size = settings.CLASSIFIER_INFERENCE_BATCH_SIZE
    if job.kind == PredictionJobKind.AD_HOC:
        job.results = []
        for start in range(0, len(job.inputs), batch_size):
            batch = job.inputs[start : start + batch_size]
            clock = time.perf_counter()
            blobs = [_read_file(item["path"]) for item in batch]
            timings["read_ms"] += (time.perf_counter() - clock) * 1000
            clock = time.perf_counter()
            probabilities = head.predict_images(backbone, blobs)
            timings["inference_ms"] += (time.perf_counter() - clock) * 1000
            for item, row in zip(batch, probabilities, strict=True):
                top = int(row.argmax())
                job.results.append(
                    {
                        "name": item["name"],
                        "label": names[top],
                        "confidence": float(row[top]),
                        "probabilities": {
                            name: float(p) for name, p in zip(names, row, strict=True)
                        },
                    }
                )
            done = start + len(batch)
            progress.update(done=done, progress=min(99, int(100 * done / max(job.total, 1))))
        return timings

    from classifier.ml import TrainedHead

    reads_embeddings = isinstance(head, TrainedHead)  # a linear head: the embedding cache serves
    done = 0
    for start in range(0, len(job.image_ids), batch_size):
        batch_ids = job.image_ids[start : start + batch_size]
        clock = time.perf_counter()
        rows = list(
            Image.objects.filter(pk__in=batch_ids)
            .order_by("pk")
            .values_list("pk", "sha256", "file")
        )
        timings["read_ms"] += (time.perf_counter() - clock) * 1000
        clock = time.perf_counter()
        if not rows:
            probabilities = []
        elif reads_embeddings:
            embeddings = embeddings_for(backbone=backbone, items=[(s, n) for _, s, n in rows])
            probabilities = head.predict_proba(embeddings)
        else:  # a fine-tuned head: its own top blocks over the photos' lower-block features
            probabilities = head.predict_images(backbone, _files_read([n for _, _, n in rows]))
        timings["inference_ms"] += (time.perf_counter() - clock) * 1000
        clock = time.perf_counter()
        predictions = []
        for (image_id, _, _), row in zip(rows, probabilities, strict=True):
            top = int(row.argmax())
            predictions.append(
                Prediction(
                    image_id=image_id,
                    model_version=model_version,
                    label=classes[top],
                    confidence=float(row[top]),
                    probabilities={name: float(p) for name, p in zip(names, row, strict=True)},
                )
            )
        Prediction.objects.bulk_create(
            predictions,
            update_conflicts=True,
            unique_fields=["image", "model_version"],
            update_fields=["label", "confidence", "probabilities", "created_at"],
        )
        timings["write_ms"] += (time.perf_counter() - clock) * 1000
        done += len(batch_ids)
        progress.update(done=done, progress=min(99, int(100 * done / max(job.total, 1))))
    return timings
