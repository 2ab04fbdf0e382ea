"""Training runs on the web side, and the one write that ends a run.

`training_run_start` / `training_run_cancel` are called by the web (views, API, admin, the
retrain command). A worker runs the training itself (classifier.worker.training) and hands
what it produced to `training_run_finish`, which writes the version and promotes it when it
beats the active one (classifier.services.versions.model_version_promote). The training set
(`training_set_for`, `training_set_check`) is what both sides agree a run trains on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Count, Max
from django.utils import timezone

from classifier.ml.hyperparameters import Hyperparameters
from classifier.models import JobStatus, ModelVersion, ModelVersionStatus, TrainingRun
from classifier.services.jobs import (
    job_dispatch_on_commit,
    job_fail,
    job_finished_signal_send,
    job_is_stale,
    job_worker_lost_message,
)
from classifier.services.versions import model_version_promote, project_lock
from labeling.models import Image, LabelClass, LabelStatus, Project, Split


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


def training_set_check(*, project: Project) -> None:
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


def _hyperparameters_checked(overrides: dict | None) -> dict:
    """The run's hyperparameters: the defaults with `overrides` applied, checked
    (classifier.ml.hyperparameters). ValidationError with the reason when they are not
    ones a worker can honour."""
    try:
        chosen = Hyperparameters.from_overrides(overrides, backbone=settings.CLASSIFIER_BACKBONE)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc
    return chosen.as_dict()


@transaction.atomic
def training_run_start(
    *,
    project: Project,
    requested_by: User | None,
    hyperparameters: dict | None = None,
) -> tuple[TrainingRun, bool]:
    """Ask for a retraining of the project's classifier. Returns (run, created).

    One training at a time per project: under the project's row lock, a queued or running
    run is returned instead of a new one (created=False); if that run's message never
    reached the broker it is sent again now. A running run whose worker has gone silent is
    failed first, so a dead worker never blocks retraining. A new run is written (with the
    defaults filled into its hyperparameters, and the backbone) and its message sent after
    commit. Raises ValidationError when the labeled images cannot train a model (a class
    without training images, no validation or test images) or a hyperparameter is invalid.
    """
    project_lock(project.pk)
    existing = TrainingRun.objects.filter(
        project=project, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
    ).first()
    if existing is not None and job_is_stale(existing):
        job_fail(existing, job_worker_lost_message(existing))
        existing = None
    if existing is not None:
        if existing.status == JobStatus.QUEUED and existing.enqueued_at is None:
            job_dispatch_on_commit(existing)
        return existing, False

    training_set_check(project=project)
    run = TrainingRun.objects.create(
        project=project,
        requested_by=requested_by,
        hyperparameters={
            **_hyperparameters_checked(hyperparameters),
            "backbone": settings.CLASSIFIER_BACKBONE,
        },
    )
    job_dispatch_on_commit(run)
    return run, True


@transaction.atomic
def training_run_cancel(*, run: TrainingRun) -> TrainingRun:
    """Cancel a queued or running run. A running one stops at its next progress update and
    writes no version. A finished run is left as it is. Returns the run as it is now."""
    cancelled = TrainingRun.objects.filter(
        pk=run.pk, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
    ).update(status=JobStatus.CANCELLED, finished_at=timezone.now(), updated_at=timezone.now())
    if cancelled:
        job_finished_signal_send(run)
    run.refresh_from_db()
    return run


def training_run_finish(
    *,
    run: TrainingRun,
    backbone: str,
    artifact: bytes,
    metrics: dict,
    hyperparameters: dict,
    training_set: TrainingSet,
) -> ModelVersion | None:
    """Write everything a finished run leaves behind, in one transaction under the project's
    lock (called by the worker that trained it).

    Writes the artifact (through the storage API), the next ModelVersion of the project, and
    the run succeeded. Promotes the version (model_version_promote: active version retired,
    queued re-predictions of other versions cancelled, the project re-predicted after commit)
    when there is no active version or it beats the active one on validation accuracy; else
    it stays a candidate, its reason saying by how much it fell short. Guarantees: a worker
    killed before the commit leaves no version; on any failure the artifact is deleted again.
    Returns None, writing nothing, when the run is no longer running (cancelled meanwhile).
    """
    stored_name = None
    try:
        with transaction.atomic():
            project_lock(run.project_id)
            locked = TrainingRun.objects.select_for_update().only("status").get(pk=run.pk)
            if locked.status != JobStatus.RUNNING:
                return None
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
            validation_accuracy = float(metrics["validation_accuracy"])
            accuracy = f"validation accuracy {validation_accuracy:.3f}"
            if active is None:
                model_version_promote(
                    model_version=version,
                    reason=f"Activated: first version ({accuracy}).",
                    retired_reason="",
                )
            elif validation_accuracy > (active.validation_accuracy or 0):
                model_version_promote(
                    model_version=version,
                    reason=(
                        f"Activated: {accuracy} beat v{active.version}'s "
                        f"{active.validation_accuracy:.3f}."
                    ),
                    retired_reason=f"Retired: v{number} had a better validation accuracy.",
                )
            else:
                version.status_reason = (
                    f"Candidate: {accuracy} did not beat active v{active.version}'s "
                    f"{active.validation_accuracy:.3f}."
                )
                version.save()
            now = timezone.now()
            TrainingRun.objects.filter(pk=run.pk).update(
                status=JobStatus.SUCCEEDED,
                progress=100,
                finished_at=now,
                heartbeat_at=now,
                updated_at=now,
            )
            job_finished_signal_send(run)
            return version
    except BaseException:
        if stored_name:
            default_storage.delete(stored_name)
        raise
