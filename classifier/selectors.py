"""Reads on the classifier side, shaped for the pages and the API.

Every function here is a plain query (or, for workers_status, one broadcast to the workers
with a short timeout); none loads TensorFlow. Querysets come with the related rows the
pages show already joined, so a list page costs a fixed number of queries.
"""

from __future__ import annotations

import logging
import time

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import F, FilteredRelation, OuterRef, Q, QuerySet, Subquery

from classifier.models import (
    UNFINISHED_STATUSES,
    Job,
    ModelVersion,
    ModelVersionStatus,
    Prediction,
    PredictionJob,
    TrainingRun,
)
from labeling.models import Image, LabelStatus, Project
from labeling.selectors import projects_visible_to

logger = logging.getLogger(__name__)

# The longest a client may ask a job GET to wait (?wait=), in seconds. A waiting request
# holds a web worker, so this stays short.
WAIT_MAX_SECONDS = 60
# How job_wait polls: the interval starts short and grows by a tenth per read. With 20 ms
# growing by half, an ad-hoc prediction (a few tens of ms of work) was answered about 25 ms
# after it had finished, half of the platform's overhead (bench/prediction_latency.py); now
# it is about 5 ms, for some 30 reads in the first second and five a second after a while.
WAIT_POLL_FIRST_SECONDS = 0.005
WAIT_POLL_GROWTH = 1.1
WAIT_POLL_MAX_SECONDS = 0.2


def model_version_active(*, project: Project | int) -> ModelVersion | None:
    """The project's active version, or None before the first training."""
    project_id = project if isinstance(project, int) else project.pk
    return ModelVersion.objects.filter(
        project_id=project_id, status=ModelVersionStatus.ACTIVE
    ).first()


def model_versions_of(*, project: Project) -> QuerySet[ModelVersion]:
    """Every version of the project, newest first, with its training run joined.

    `metrics` holds accuracy, loss, per_class, confusion_matrix, class_names, history
    ({"loss", "accuracy", "val_loss", "val_accuracy"} per epoch), best_epoch,
    validation_accuracy and timings: everything the Models page draws.
    """
    return (
        ModelVersion.objects.filter(project=project)
        .select_related("training_run", "activated_by")
        .order_by("-version")
    )


def training_runs_of(*, project: Project) -> QuerySet[TrainingRun]:
    """The project's training runs, newest first, each with its version (if any)."""
    return (
        TrainingRun.objects.filter(project=project)
        .select_related("model_version", "requested_by")
        .order_by("-created_at", "-pk")
    )


def training_run_unfinished(*, project: Project) -> TrainingRun | None:
    """The queued or running training of the project, if any (at most one exists)."""
    return TrainingRun.objects.filter(project=project, status__in=UNFINISHED_STATUSES).first()


def training_runs_visible_to(*, user: AbstractBaseUser) -> QuerySet[TrainingRun]:
    """Training runs of every project the user sees, newest first (the Jobs page)."""
    return (
        TrainingRun.objects.filter(project__in=projects_visible_to(user=user))
        .select_related("project", "model_version", "requested_by")
        .order_by("-created_at", "-pk")
    )


def prediction_jobs_visible_to(*, user: AbstractBaseUser) -> QuerySet[PredictionJob]:
    """Prediction jobs of every project the user sees, newest first (the Jobs page)."""
    return (
        PredictionJob.objects.filter(project__in=projects_visible_to(user=user))
        .select_related("project", "model_version", "requested_by")
        .order_by("-created_at", "-pk")
    )


def predictions_of_image(*, image: Image | int) -> QuerySet[Prediction]:
    """Every version's prediction of the image, newest version first (the image page)."""
    image_id = image if isinstance(image, int) else image.pk
    return (
        Prediction.objects.filter(image_id=image_id)
        .select_related("model_version", "label")
        .order_by("-model_version__version")
    )


def prediction_job_results(*, job: PredictionJob) -> list[dict]:
    """[{"image_id" or "name", "label", "confidence", "probabilities"}] of a job.

    Ad-hoc results live in the job row; stored images' results are their Prediction rows
    for the job's version (missing until the job has predicted them).
    """
    if job.inputs:
        return list(job.results)
    rows = (
        Prediction.objects.filter(model_version_id=job.model_version_id, image_id__in=job.image_ids)
        .select_related("label")
        .order_by("image_id")
    )
    return [
        {
            "image_id": row.image_id,
            "label": row.label.name if row.label else None,
            "confidence": row.confidence,
            "probabilities": row.probabilities,
        }
        for row in rows
    ]


def images_with_predictions(
    *,
    project: Project,
    model_version: ModelVersion | None = None,
    predicted_label_id: int | None = None,
    confidence_min: float | None = None,
    confidence_max: float | None = None,
    disagreement: bool | None = None,
) -> QuerySet[Image]:
    """The project's images, each annotated with one version's prediction (the gallery).

    Annotations: `predicted_label_id`, `predicted_confidence` (None where that version has
    not predicted the image). The version defaults to the active one; with no version at
    all, the annotations are None and the prediction filters match nothing. Filters: a
    predicted class, a confidence range (inclusive), and `disagreement` (True: labeled
    images whose prediction differs from the label; False: labeled images where they agree).
    One LEFT JOIN on the (image, version) unique index; no query per image.
    """
    if model_version is None:
        model_version = model_version_active(project=project)
    version_id = model_version.pk if model_version else None
    images = (
        Image.objects.filter(project=project)
        .annotate(
            prediction=FilteredRelation(
                "predictions", condition=Q(predictions__model_version_id=version_id)
            )
        )
        .annotate(
            predicted_label_id=F("prediction__label_id"),
            predicted_confidence=F("prediction__confidence"),
        )
    )
    if predicted_label_id is not None:
        images = images.filter(predicted_label_id=predicted_label_id)
    if confidence_min is not None:
        images = images.filter(predicted_confidence__gte=confidence_min)
    if confidence_max is not None:
        images = images.filter(predicted_confidence__lte=confidence_max)
    if disagreement is not None:
        labeled = images.filter(label_status=LabelStatus.LABELED, predicted_label_id__isnull=False)
        mismatch = ~Q(predicted_label_id=F("label_id"))
        images = labeled.filter(mismatch) if disagreement else labeled.exclude(mismatch)
    return images


def labeling_queue_most_uncertain_first(images: QuerySet[Image], project: Project):
    """Registered with labeling.selectors.labeling_queue_order_by (classifier.apps).

    Once the project has an active version, the queue offers the images it is least sure
    of first (lowest top probability); images it has not predicted yet come after them,
    oldest first. Without a model, the queue keeps its order.
    """
    active = model_version_active(project=project)
    if active is None:
        return images
    confidence = Prediction.objects.filter(image=OuterRef("pk"), model_version=active).values(
        "confidence"
    )[:1]
    return images.annotate(predicted_confidence=Subquery(confidence)).order_by(
        F("predicted_confidence").asc(nulls_last=True), "created_at", "pk"
    )


def job_wait(*, job: Job, seconds: float) -> Job:
    """Return the job once it has finished, or after `seconds` (capped at WAIT_MAX_SECONDS).

    Polls the row's status only (one indexed primary-key read), every 5 ms at first and then
    less often (see WAIT_POLL_*), so a job that takes t seconds is answered about t/20 + 3 ms
    after it finished, and a long wait costs five reads a second.
    """
    deadline = time.monotonic() + max(0.0, min(float(seconds), WAIT_MAX_SECONDS))
    model = type(job)
    interval = WAIT_POLL_FIRST_SECONDS
    while True:
        status = model.objects.filter(pk=job.pk).values_list("status", flat=True).first()
        if status is None or status not in UNFINISHED_STATUSES or time.monotonic() >= deadline:
            break
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
        interval = min(interval * WAIT_POLL_GROWTH, WAIT_POLL_MAX_SECONDS)
    job.refresh_from_db()
    return job


def workers_status(*, timeout: float = 1.0) -> list[dict]:
    """Each online worker: {"hostname", "queues", "pid", "backbones", "model_versions"}.

    One broadcast of the classifier_status inspect command (classifier.worker); workers
    that do not answer within `timeout` are not listed. An unreachable broker gives [].
    """
    from labelplatform.celery import app

    try:
        replies = app.control.inspect(timeout=timeout)._request("classifier_status") or {}
    except Exception as exc:
        logger.warning("Could not ask the workers for their status: %s", exc)
        return []
    return sorted(
        (
            {"hostname": hostname, **reply}
            for hostname, reply in replies.items()
            if isinstance(reply, dict) and "queues" in reply
        ),
        key=lambda worker: worker["hostname"],
    )
