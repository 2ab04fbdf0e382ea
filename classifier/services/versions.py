"""Model versions: which one is its project's active version, and how one becomes it.

`model_version_promote` is the one way a version becomes active: used at the end of a training
run whose version beats the active one (classifier.services.training) and by
`model_version_activate` (a user's activation, also the rollback).
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from classifier.models import (
    JobStatus,
    ModelVersion,
    ModelVersionStatus,
    PredictionJob,
    PredictionJobKind,
)
from classifier.services.predictions import project_predictions_refresh
from classifier.signals import model_version_activated, signal_send_on_commit
from labeling.models import Project


def project_lock(project_id: int) -> None:
    """Take the project's row lock until the transaction ends.

    It serializes what must happen one at a time per project: starting a training, numbering
    and promoting a version, activating one. (On SQLite, where FOR UPDATE does not exist, the
    IMMEDIATE transactions of the settings serialize them.)
    """
    Project.objects.select_for_update().only("pk").get(pk=project_id)


def model_version_promote(
    *,
    model_version: ModelVersion,
    reason: str,
    retired_reason: str,
    activated_by: User | None = None,
) -> None:
    """Make `model_version` its project's active version. Call it inside a transaction that
    holds the project's lock (project_lock).

    Writes: the project's active version retired with `retired_reason` (first: one active
    version per project); this version active with `reason`, `activated_by` and the time,
    saved (inserted when it is new); the project's queued re-predictions of other versions
    cancelled, since the new version re-predicts the project. Enqueues, after commit, prediction
    jobs for the project's images this version has not predicted yet
    (project_predictions_refresh); the prediction workers load its head from storage by id.
    """
    ModelVersion.objects.filter(
        project_id=model_version.project_id, status=ModelVersionStatus.ACTIVE
    ).exclude(pk=model_version.pk).update(
        status=ModelVersionStatus.RETIRED, status_reason=retired_reason
    )
    model_version.status = ModelVersionStatus.ACTIVE
    model_version.status_reason = reason
    model_version.activated_at = timezone.now()
    model_version.activated_by = activated_by
    if model_version._state.adding:
        model_version.save()
    else:
        model_version.save(
            update_fields=["status", "status_reason", "activated_at", "activated_by"]
        )
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
    signal_send_on_commit(model_version_activated, ModelVersion, model_version_id=model_version.pk)


@transaction.atomic
def model_version_activate(
    *, model_version: ModelVersion, activated_by: User | None
) -> ModelVersion:
    """Make the version its project's active one; this is also the rollback.

    Under the project's row lock, promotes it (model_version_promote: retires the previously
    active version, cancels queued re-predictions for other versions, and after commit queues
    prediction jobs for the images this version has not predicted yet). Activating the active
    version changes nothing. Permission (owners, staff) is the caller's check.
    """
    project_lock(model_version.project_id)
    model_version.refresh_from_db()
    if model_version.status == ModelVersionStatus.ACTIVE:
        return model_version
    who = f" by {activated_by}" if activated_by else ""
    model_version_promote(
        model_version=model_version,
        reason=f"Activated{who}.",
        retired_reason=f"Retired: v{model_version.version} was activated{who}.",
        activated_by=activated_by,
    )
    return model_version
