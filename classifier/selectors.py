"""Reads on the classifier side, shaped for the pages and the API.

Every function here is a plain query (or, for workers_status, one broadcast to the workers
with a short timeout); none loads TensorFlow. Querysets come with the related rows the
pages show already joined, so a list page costs a fixed number of queries.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import F, FilteredRelation, Q, QuerySet
from django.utils import timezone

from classifier import broker
from classifier.models import (
    UNFINISHED_STATUSES,
    Job,
    JobStatus,
    ModelVersion,
    ModelVersionStatus,
    Prediction,
    PredictionJob,
    TrainingRun,
)
from labeling.models import Image, LabelClass, LabelStatus, Project, Split
from labeling.selectors import images_needing_label_by, projects_visible_to

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


def images_to_label_next(
    *,
    project: Project,
    user: AbstractBaseUser,
    exclude_ids: Collection[int] = (),
    limit: int = 3,
) -> list[Image]:
    """The next few images for the user to label on the labeling page, leaving out
    `exclude_ids` (the ones they skipped this session, or already have on screen).

    labeling's queue (labeling.selectors.images_needing_label_by), ordered for active
    learning: once the project has an active version, the images it is least sure of first
    (lowest top probability), then the images it has not predicted yet, oldest first.
    Without a model, the queue keeps its order (oldest first). The page fetches a few at
    once so it can preload the next image before it is asked for.
    """
    images = images_needing_label_by(project=project, user=user).select_related("label")
    active = model_version_active(project=project)
    if active is not None:
        # A join to the version's predictions (one per image at most), not a subquery per
        # image: every queued image is ranked, and the database can join them all at once.
        images = (
            images.annotate(
                active_prediction=FilteredRelation(
                    "predictions", condition=Q(predictions__model_version=active)
                )
            )
            .annotate(predicted_confidence=F("active_prediction__confidence"))
            .order_by(F("predicted_confidence").asc(nulls_last=True), "created_at", "pk")
        )
    return list(images.exclude(pk__in=exclude_ids)[:limit])


def job_wait(*, job: Job, seconds: float) -> Job:
    """Return the job once it has finished, or after `seconds` (capped at WAIT_MAX_SECONDS).

    Polls the row's status only (a primary-key read, well under a millisecond): every 5 ms
    for the first two seconds, so a quick prediction is answered within about 5 ms of
    finishing (at 10 ms this wait was a tenth of an ad-hoc prediction's overhead), then less
    and less often, up to every 250 ms.
    """
    started = time.monotonic()
    deadline = started + max(0.0, min(float(seconds), WAIT_MAX_SECONDS))
    model = type(job)
    interval = 0.005
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
    that do not answer within `timeout` are not listed. An unreachable broker gives [], at
    once when it has just timed out (classifier.broker).
    """
    from labelplatform.celery import app

    if broker.broker_unresponsive():
        return []
    try:
        with broker.broker_call():
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


# ==========================================================================================
# The classifier's pages (Models, Jobs, dashboard and image panels): selectors the web pages
# need beyond the ones above. Plain queries, a fixed number per page.
# ==========================================================================================

# How many finished jobs of each kind the Jobs pages list (unfinished ones are always listed).
JOBS_FINISHED_SHOWN = 20


def model_version_shown(
    *, versions: list[ModelVersion], number: str | int | None
) -> ModelVersion | None:
    """The version the Models page details: number N if asked for and it exists, else the
    active one, else the newest. `versions` is the page's list (no query)."""
    if number is not None and str(number).isdigit():
        for version in versions:
            if version.version == int(number):
                return version
    active = [version for version in versions if version.status == ModelVersionStatus.ACTIVE]
    return active[0] if active else (versions[0] if versions else None)


def metrics_per_class(metrics: dict) -> list[tuple[str, dict]]:
    """[(class name, {"precision", "recall", "f1", "support"})] of a version's metrics, in
    the head's class order (PostgreSQL's jsonb does not keep a dict's key order)."""
    per_class = (metrics or {}).get("per_class") or {}
    names = [name for name in (metrics or {}).get("class_names") or [] if name in per_class]
    names += sorted(name for name in per_class if name not in names)
    return [(name, per_class[name]) for name in names]


def model_version_counts(*, version: ModelVersion) -> list[dict]:
    """The images a version was trained and tested on, train, validation, test in that
    order: [{"split", "total", "per_class": [(class name, count)]}] (classes in the head's
    order)."""
    order = {name: index for index, name in enumerate(version.metrics.get("class_names") or [])}
    rows = []
    for split in Split.values:
        per_class = (version.counts or {}).get(split)
        if per_class is None:
            continue
        names = sorted(per_class, key=lambda name: (order.get(name, len(order)), name))
        rows.append(
            {
                "split": split,
                "total": sum(per_class.values()),
                "per_class": [(name, per_class[name]) for name in names],
            }
        )
    return rows


def model_version_report(*, version: ModelVersion, classes: list[LabelClass]) -> dict:
    """A version's metrics shaped for the Models page: per-class rows and the charts' data.

    Reads only `version.metrics` (see ModelVersion); a key a version lacks (an older format)
    leaves its part empty rather than failing. Colours are the classes' current ones, by the
    trained class names.
    """
    metrics = version.metrics or {}
    names = metrics.get("class_names") or [name for name, _ in metrics_per_class(metrics)]
    color_of = {label_class.name: label_class.color for label_class in classes}
    per_class = metrics.get("per_class") or {}
    history = metrics.get("history") or {}
    epochs = len(history.get("loss") or history.get("val_loss") or [])
    return {
        "per_class": [
            {"name": name, "color": color_of.get(name, "#6c757d"), **per_class[name]}
            for name in names
            if name in per_class
        ],
        "charts": {
            "classes": names,
            "colors": [color_of.get(name, "#6c757d") for name in names],
            "confusion_matrix": metrics.get("confusion_matrix") or [],
            "epochs": list(range(1, epochs + 1)),
            "history": {
                key: history.get(key) or []
                for key in ("loss", "val_loss", "accuracy", "val_accuracy")
            },
            # The epoch whose weights early stopping kept (1-based; 0 or missing: unknown).
            "best_epoch": metrics.get("best_epoch") or None,
        },
        "confusion_rows": [
            {
                "name": name,
                "cells": [
                    {"count": count, "correct": column == row_index}
                    for column, count in enumerate(row)
                ],
            }
            for row_index, (name, row) in enumerate(
                zip(names, metrics.get("confusion_matrix") or [], strict=False)
            )
        ],
        "test_images": sum(sum(row) for row in metrics.get("confusion_matrix") or []),
    }


def _jobs_listed(jobs: QuerySet) -> list:
    """Unfinished jobs (all of them), then the newest finished ones.

    Two reads: a job that finishes between them is in both, and is listed once, as the first
    read saw it (the page's next refresh shows it finished)."""
    unfinished = list(jobs.filter(status__in=UNFINISHED_STATUSES))
    listed = {job.pk for job in unfinished}
    finished = jobs.exclude(status__in=UNFINISHED_STATUSES)[:JOBS_FINISHED_SHOWN]
    return unfinished + [job for job in finished if job.pk not in listed]


def jobs_for_page(*, user: AbstractBaseUser, project: Project | None = None) -> dict:
    """What the Jobs page lists: {"training_runs", "prediction_jobs", "active"}, for one
    project or for every project the user sees. "active" says whether any listed job is
    queued or running (the page polls while it is). Four queries."""
    if project is not None:
        runs = TrainingRun.objects.filter(project=project)
        predictions = PredictionJob.objects.filter(project=project)
    else:
        visible = projects_visible_to(user=user)
        runs = TrainingRun.objects.filter(project__in=visible)
        predictions = PredictionJob.objects.filter(project__in=visible)
    training_runs = _jobs_listed(
        runs.select_related("project", "model_version", "requested_by").order_by(
            "-created_at", "-pk"
        )
    )
    prediction_jobs = _jobs_listed(
        predictions.select_related("project", "model_version", "requested_by").order_by(
            "-created_at", "-pk"
        )
    )
    return {
        "training_runs": training_runs,
        "prediction_jobs": prediction_jobs,
        "active": any(not job.is_finished for job in [*training_runs, *prediction_jobs]),
    }


class _HiddenJob:
    """A running job of a project the user does not see: only its worker is told."""

    hidden = True

    def __init__(self, worker: str):
        self.worker = worker


def workers_with_versions(
    *, user: AbstractBaseUser, timeout: float, project: Project | None = None
) -> list[dict]:
    """The workers online for the Jobs page: each answering worker (workers_status) with its
    loaded model versions as rows the user may see, plus workers busy with a job.

    A worker running a job on the solo pool cannot answer the broadcast until the job ends,
    so a worker named on a running job whose heartbeat is fresh is listed too, as busy.
    Each: {"hostname", "queues", "backbones", "versions" (ModelVersion rows of projects the
    user sees), "other_versions" (how many more it holds), "busy_with" (running jobs; of a
    project the user does not see, an object with `hidden` true and no details),
    "answered" (bool)}. When nothing answers and nothing runs: [].
    """
    answered = {worker["hostname"]: worker for worker in workers_status(timeout=timeout)}
    fresh = timezone.now() - timedelta(seconds=settings.CLASSIFIER_JOB_HEARTBEAT_TIMEOUT)
    running = Q(status=JobStatus.RUNNING, heartbeat_at__gte=fresh) & ~Q(worker="")
    busy: list = [
        *TrainingRun.objects.filter(running).select_related("project"),
        *PredictionJob.objects.filter(running).select_related("project", "model_version"),
    ]
    version_ids = {pk for worker in answered.values() for pk in worker.get("model_versions", [])}
    versions = {
        version.pk: version
        for version in ModelVersion.objects.filter(pk__in=version_ids).select_related("project")
    }
    if not user.is_staff and (versions or busy):
        # Other projects' names stay hidden: those versions and jobs are only counted.
        seen = set(projects_visible_to(user=user).values_list("pk", flat=True))
        versions = {pk: v for pk, v in versions.items() if v.project_id in seen}
        busy = [job for job in busy if job.project_id in seen] + [
            _HiddenJob(job.worker) for job in busy if job.project_id not in seen
        ]

    workers: dict[str, dict] = {}
    for hostname, reply in answered.items():
        held = reply.get("model_versions", [])
        workers[hostname] = {
            "hostname": hostname,
            "queues": reply.get("queues", []),
            "backbones": reply.get("backbones", {}),
            "versions": sorted(
                (versions[pk] for pk in held if pk in versions),
                key=lambda version: (
                    version.project_id != getattr(project, "pk", None),
                    version.project.name,
                    -version.version,
                ),
            ),
            "other_versions": sum(1 for pk in held if pk not in versions),
            "busy_with": [],
            "answered": True,
        }
    for job in busy:
        worker = workers.setdefault(
            job.worker,
            {
                "hostname": job.worker,
                "queues": [],
                "backbones": {},
                "versions": [],
                "other_versions": 0,
                "busy_with": [],
                "answered": False,
            },
        )
        worker["busy_with"].append(job)
    return sorted(workers.values(), key=lambda worker: worker["hostname"])


def project_model_summary(*, project: Project) -> dict:
    """The dashboard's model card: {"active" (version or None), "run" (the queued or running
    training, or None), "last_failed" (the newest finished run, when it failed and is newer
    than the active version), "version_count", "image_count", "predicted_count" (images the
    active version has predicted)}. Two queries, four with an active version."""
    # Small rows: the card needs no metrics. Versions of one project are few.
    versions = list(
        ModelVersion.objects.filter(project=project).defer(
            "metrics", "counts", "hyperparameters", "class_ids"
        )
    )
    active = next((v for v in versions if v.status == ModelVersionStatus.ACTIVE), None)
    # At most one run is unfinished, and no run can start after it: it is the newest.
    runs = list(TrainingRun.objects.filter(project=project).order_by("-created_at", "-pk")[:2])
    run = runs[0] if runs and not runs[0].is_finished else None
    last_finished = next((r for r in runs if r.is_finished), None)
    failed = last_finished is not None and last_finished.status == JobStatus.FAILED
    summary = {
        "active": active,
        "run": run,
        "last_failed": last_finished
        if failed and (active is None or last_finished.created_at > active.created_at)
        else None,
        "version_count": len(versions),
        "image_count": None,
        "predicted_count": None,
    }
    if active is not None:
        # Both counted off indexes, without joining the images to their predictions (a
        # prediction is one image's for one version, so the version's rows are its images).
        summary.update(
            image_count=Image.objects.filter(project=project).count(),
            predicted_count=Prediction.objects.filter(model_version=active).count(),
        )
    return summary


def image_predictions_shown(*, image: Image, classes: list[LabelClass]) -> list[dict]:
    """The image page's predictions, newest version first: [{"prediction", "bars":
    [{"name", "color", "probability"}] in the project's class order, "agrees" (True/False
    against the image's label, None while it has none)}]. One query."""
    order = {label_class.name: index for index, label_class in enumerate(classes)}
    color_of = {label_class.name: label_class.color for label_class in classes}
    shown = []
    for prediction in predictions_of_image(image=image):
        names = sorted(prediction.probabilities, key=lambda name: (order.get(name, 99), name))
        shown.append(
            {
                "prediction": prediction,
                "bars": [
                    {
                        "name": name,
                        "color": color_of.get(name, "#6c757d"),
                        "probability": prediction.probabilities[name],
                    }
                    for name in names
                ],
                "agrees": None
                if image.label_status != LabelStatus.LABELED or image.label_id is None
                else prediction.label_id == image.label_id,
            }
        )
    return shown
