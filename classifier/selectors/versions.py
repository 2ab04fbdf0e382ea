"""Model versions as the Models page, the dashboard's card and the API read them."""

from django.db import connection
from django.db.models import QuerySet

from classifier.models import (
    UNFINISHED_STATUSES,
    JobStatus,
    ModelVersion,
    ModelVersionStatus,
    Prediction,
    PredictionJob,
    PredictionJobKind,
    PredictionTally,
    TrainingRun,
)
from labeling.models import LabelClass, Project, Split
from labeling.selectors import project_image_count


def model_version_active(*, project: Project | int) -> ModelVersion | None:
    """The project's active version, or None before the first training."""
    project_id = project if isinstance(project, int) else project.pk
    return ModelVersion.objects.filter(
        project_id=project_id, status=ModelVersionStatus.ACTIVE
    ).first()


def unsure_threshold_of(*, project: Project, version: ModelVersion | None) -> float | None:
    """The confidence below which the version's predictions are "unsure" in this project: the
    project's own threshold when an owner set one, else the version's default (the lowest at
    which every class kept a test precision of 99%, in its calibration), else None (nothing is
    unsure: a version made before calibration, or no version)."""
    if project.unsure_threshold is not None:
        return project.unsure_threshold
    if version is None:
        return None
    return (version.calibration or {}).get("unsure_threshold")


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


def model_version_calibration_report(*, version: ModelVersion) -> dict | None:
    """The Models page's calibration card: the version's temperature, test ECE before and
    after, default unsure threshold, and its reliability diagram (after calibration) as SVG
    geometry in a 100 x 100 box, y growing downwards: per non-empty bin a bar of its accuracy
    and a tick at its mean confidence. None for a version made before calibration."""
    calibration = version.calibration or {}
    if "temperature" not in calibration:
        return None
    bars = []
    for row in calibration.get("reliability_after") or []:
        if not row["count"]:
            continue
        accuracy, confidence = row["accuracy"], row["confidence"]
        bars.append(
            {
                "x": round(100 * row["lower"], 2),
                "width": round(100 * (row["upper"] - row["lower"]), 2),
                "x_end": round(100 * row["upper"], 2),
                "y": round(100 * (1 - accuracy), 2),
                "height": round(100 * accuracy, 2),
                "confidence_y": round(100 * (1 - confidence), 2),
                "count": row["count"],
                "title": f"{row['lower']:.2f}-{row['upper']:.2f}: {row['count']} image(s), "
                f"accuracy {accuracy:.2f}, mean confidence {confidence:.2f}",
            }
        )
    return {
        "temperature": calibration["temperature"],
        "ece_before": calibration.get("ece_before"),
        "ece_after": calibration.get("ece_after"),
        "unsure_threshold": calibration.get("unsure_threshold"),
        "bins": len(calibration.get("reliability_after") or []),
        "bars": bars,
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
        # Kept counts on PostgreSQL, so the card costs the same at any size (a prediction is
        # one image's for one version, so the version's predictions are its images).
        summary.update(
            image_count=project_image_count(project=project),
            predicted_count=model_version_prediction_count(model_version=active),
        )
    return summary


def model_version_prediction_count(*, model_version: ModelVersion) -> int:
    """How many predictions the version has (one per image it predicted). One query: on
    PostgreSQL the kept count (PredictionTally, its triggers), whatever the project's size;
    elsewhere the predictions are counted."""
    if connection.vendor == "postgresql":
        kept = (
            PredictionTally.objects.filter(model_version_id=model_version.pk)
            .values_list("count", flat=True)
            .first()
        )
        return int(kept or 0)
    return Prediction.objects.filter(model_version=model_version).count()
