"""Model versions as the Models page, the dashboard's card and the API read them."""

from django.db.models import QuerySet

from classifier.models import (
    UNFINISHED_STATUSES,
    JobStatus,
    ModelVersion,
    ModelVersionStatus,
    Prediction,
    PredictionJob,
    PredictionJobKind,
    TrainingRun,
)
from labeling.models import Image, LabelClass, Project, Split


def model_version_active(*, project: Project | int) -> ModelVersion | None:
    """The project's active version, or None before the first training."""
    project_id = project if isinstance(project, int) else project.pk
    return ModelVersion.objects.filter(
        project_id=project_id, status=ModelVersionStatus.ACTIVE
    ).first()


def model_version_activation_message(*, model_version: ModelVersion, status_before: str) -> str:
    """What an activation did, in words, for the page or admin that asked for it: read after
    model_version_activate has committed (its re-prediction jobs are rows by then).

    Three outcomes: the version was active already (nothing happened); it now predicts the
    images it has not predicted yet (a job); or it had predicted every image before (a
    rollback to a version that saw them all): its predictions show at once, no job needed.
    """
    name = f"Version {model_version.version}"
    if status_before == ModelVersionStatus.ACTIVE:
        return f"{name} was already the active version; nothing changed."
    became = (
        f"Rolled back: {name} is active again."
        if status_before == ModelVersionStatus.RETIRED
        else f"{name} is now active."
    )
    pending = sum(
        len(image_ids)
        for image_ids in PredictionJob.objects.filter(
            model_version=model_version,
            kind=PredictionJobKind.REPREDICT,
            status__in=UNFINISHED_STATUSES,
        ).values_list("image_ids", flat=True)
    )
    if pending:
        return (
            f"{became} It is predicting the {pending} image{'s' if pending != 1 else ''} it "
            "had not seen yet, in the background (see Jobs); its earlier predictions show "
            "at once."
        )
    return (
        f"{became} It had already predicted every image of the project, so its "
        "predictions show at once; no prediction job was needed."
    )


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
    last_failed = (
        last_finished
        if last_finished is not None and last_finished.status == JobStatus.FAILED
        else None
    )
    summary = {
        "active": active,
        "run": run,
        "last_failed": last_failed
        if last_failed and (active is None or last_failed.created_at > active.created_at)
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
