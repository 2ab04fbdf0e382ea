"""Reads on the classifier side, shaped for the pages and the API.

Every function here is a plain query (or, for workers_status, one broadcast to the workers
with a short timeout); none loads TensorFlow. Querysets come with the related rows the
pages show already joined, so a list page costs a fixed number of queries.
"""

from __future__ import annotations

import logging
import time

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import F, OuterRef, Q, QuerySet, Subquery

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


def prediction_jobs_of(*, project: Project) -> QuerySet[PredictionJob]:
    """The project's prediction jobs, newest first, each with its version."""
    return (
        PredictionJob.objects.filter(project=project)
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


def images_annotate_prediction(
    images: QuerySet[Image], *, model_version: ModelVersion | None = None
) -> QuerySet[Image]:
    """Annotate each image with `predicted_label_id` and `predicted_confidence`: the
    prediction of `model_version`, or by default of the active version of the image's own
    project (None where that version has not predicted it, or there is none).

    Two correlated subqueries on the (image, version) unique index; no query per image.
    Annotating twice is harmless (the second call returns the queryset as it is).
    """
    if "predicted_confidence" in images.query.annotations:
        return images
    predictions = Prediction.objects.filter(image=OuterRef("pk"))
    if model_version is not None:
        predictions = predictions.filter(model_version=model_version)
    else:
        # One active version per project, so this picks at most one row per image.
        predictions = predictions.filter(model_version__status=ModelVersionStatus.ACTIVE)
    return images.annotate(
        predicted_label_id=Subquery(predictions.values("label_id")[:1]),
        predicted_confidence=Subquery(predictions.values("confidence")[:1]),
    )


def images_with_predictions(
    *,
    project: Project,
    model_version: ModelVersion | None = None,
    predicted_label_id: int | None = None,
    confidence_min: float | None = None,
    confidence_max: float | None = None,
    disagreement: bool | None = None,
) -> QuerySet[Image]:
    """The project's images with one version's prediction (default: the active version),
    filtered by predicted class, confidence range (inclusive) and `disagreement` (True:
    labeled images whose prediction differs from the label; False: those where they agree).

    The same filters are registered for the gallery and grid as labeling.selectors
    IMAGE_FILTERS "predicted_label", "confidence_min", "confidence_max", "disagreement".
    """
    images = images_annotate_prediction(
        Image.objects.filter(project=project), model_version=model_version
    )
    filters = {
        "predicted_label": predicted_label_id,
        "confidence_min": confidence_min,
        "confidence_max": confidence_max,
        "disagreement": disagreement,
    }
    for name, value in filters.items():
        if value is not None:
            images = IMAGE_PREDICTION_FILTERS[name](images, value, None)
    return images


def _filter_predicted_label(images: QuerySet[Image], value, user) -> QuerySet[Image]:
    label_id = getattr(value, "pk", value)
    return images_annotate_prediction(images).filter(predicted_label_id=label_id)


def _filter_confidence_min(images: QuerySet[Image], value, user) -> QuerySet[Image]:
    return images_annotate_prediction(images).filter(predicted_confidence__gte=float(value))


def _filter_confidence_max(images: QuerySet[Image], value, user) -> QuerySet[Image]:
    return images_annotate_prediction(images).filter(predicted_confidence__lte=float(value))


def _filter_disagreement(images: QuerySet[Image], value, user) -> QuerySet[Image]:
    """Truthy ("yes", "1", True): the prediction differs from the label; "no"/False: agrees.
    Only labeled images with a prediction either way."""
    wanted = value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
    labeled = images_annotate_prediction(images).filter(
        label_status=LabelStatus.LABELED, predicted_label_id__isnull=False
    )
    mismatch = ~Q(predicted_label_id=F("label_id"))
    return labeled.filter(mismatch) if wanted else labeled.exclude(mismatch)


# Registered into labeling.selectors.IMAGE_FILTERS by classifier.apps, so the gallery and
# grid filter by prediction once their form has the matching fields.
IMAGE_PREDICTION_FILTERS = {
    "predicted_label": _filter_predicted_label,
    "confidence_min": _filter_confidence_min,
    "confidence_max": _filter_confidence_max,
    "disagreement": _filter_disagreement,
}


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

    Polls the row's status only (a primary-key read, well under a millisecond): every 10 ms
    for the first two seconds, so a quick prediction is answered within about 10 ms of
    finishing, then less and less often, up to every 250 ms.
    """
    started = time.monotonic()
    deadline = started + max(0.0, min(float(seconds), WAIT_MAX_SECONDS))
    model = type(job)
    interval = 0.01
    while True:
        status = model.objects.filter(pk=job.pk).values_list("status", flat=True).first()
        now = time.monotonic()
        if status is None or status not in UNFINISHED_STATUSES or now >= deadline:
            break
        time.sleep(min(interval, deadline - now))
        if now - started > 2:
            interval = min(interval * 1.5, 0.25)
    job.refresh_from_db()
    return job


def workers_status(*, timeout: float = 1.0) -> list[dict]:
    """Each online worker: {"hostname", "queues", "pool", "pid", "backbones" {name: load
    seconds}, "model_versions" [ids]}.

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
