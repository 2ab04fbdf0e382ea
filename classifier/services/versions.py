"""Model versions: which one is its project's active version, and how one becomes it.

`model_version_promote` is the one way a version becomes active: used at the end of a training
run whose version passes the promotion gate (`promotion_gate`, called by
classifier.services.training) and by `model_version_activate` (a user's activation, also the
rollback) and `model_version_pin`.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from classifier.models import (
    JobStatus,
    ModelVersion,
    ModelVersionStatus,
    PredictionJob,
    PredictionJobKind,
    PromotionDecision,
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


# Accuracies closer than this are equal (floats of counts over the same validation images).
_SAME = 1e-9


@dataclass(frozen=True)
class PromotionVerdict:
    promote: bool
    reason: str


def labels_trained_on(version: ModelVersion) -> int:
    """How many labeled images (all splits) the version was trained and measured on."""
    return sum(sum(per_class.values()) for per_class in (version.counts or {}).values())


def promotion_gate(
    *, candidate: ModelVersion, active: ModelVersion | None, recall_margin: float
) -> PromotionVerdict:
    """Whether a freshly trained `candidate` replaces the `active` version, and why.

    It does when there is no active version; never when the active version is pinned.
    Otherwise it must be at least as accurate on the validation split, and no class's
    validation recall may fall by more than `recall_margin` (0.02 = 2 points) below the active
    version's (a version that forgets a minority class does not win on overall accuracy).
    On equal accuracy, the version trained on more labels wins. The reason names the class and
    the figures that decided. Reads only the two rows; writes nothing.
    """
    accuracy = candidate.validation_accuracy or 0.0
    if active is None:
        return PromotionVerdict(
            True, f"Activated: first version (validation accuracy {accuracy:.3f})."
        )
    label = f"active v{active.version}"
    if active.pinned:
        return PromotionVerdict(
            False,
            f"Candidate: {label} is pinned by an owner (validation accuracy {accuracy:.3f} "
            f"against its {active.validation_accuracy or 0.0:.3f}).",
        )
    active_accuracy = active.validation_accuracy or 0.0
    if accuracy < active_accuracy - _SAME:
        return PromotionVerdict(
            False,
            f"Candidate: validation accuracy {accuracy:.3f} did not reach {label}'s "
            f"{active_accuracy:.3f}.",
        )
    recalls = candidate.metrics.get("validation_per_class") or {}
    active_recalls = active.metrics.get("validation_per_class") or {}
    for name, figures in recalls.items():
        before = (active_recalls.get(name) or {}).get("recall")
        if before is None:
            continue  # a class the active version did not know, or an older version
        drop = before - figures["recall"]
        if drop > recall_margin + _SAME:
            return PromotionVerdict(
                False,
                f"Candidate: validation recall of {name!r} would drop from {before:.3f} "
                f"({label}) to {figures['recall']:.3f}, {100 * drop:.1f} points, more than the "
                f"{100 * recall_margin:g}-point margin.",
            )
    labels, active_labels = labels_trained_on(candidate), labels_trained_on(active)
    if accuracy <= active_accuracy + _SAME:
        if labels > active_labels:
            return PromotionVerdict(
                True,
                f"Activated: validation accuracy {accuracy:.3f} equals {label}'s, on more "
                f"labels ({labels} against {active_labels}).",
            )
        return PromotionVerdict(
            False,
            f"Candidate: validation accuracy {accuracy:.3f} equals {label}'s, on no more "
            f"labels ({labels} against {active_labels}).",
        )
    return PromotionVerdict(
        True,
        f"Activated: validation accuracy {accuracy:.3f} beat v{active.version}'s "
        f"{active_accuracy:.3f}, no class's recall down more than {100 * recall_margin:g} "
        "points.",
    )


def model_version_promote(
    *,
    model_version: ModelVersion,
    reason: str,
    retired_reason: str,
    activated_by: User | None = None,
    decision: str = PromotionDecision.ACTIVATED,
    pinned: bool = False,
) -> None:
    """Make `model_version` its project's active version. Call it inside a transaction that
    holds the project's lock (project_lock).

    Writes: the project's active version retired with `retired_reason` and unpinned (first: one
    active version per project); this version active with `reason` (also its promotion reason,
    with `decision`), `pinned`, `activated_by` and the time, saved (inserted when it is new);
    the project's queued re-predictions of other versions cancelled, since the new version
    re-predicts the project. Enqueues, after commit, prediction jobs for the project's images
    this version has not predicted yet (project_predictions_refresh); the prediction workers
    load its head from storage by id.
    """
    ModelVersion.objects.filter(
        project_id=model_version.project_id, status=ModelVersionStatus.ACTIVE
    ).exclude(pk=model_version.pk).update(
        status=ModelVersionStatus.RETIRED, status_reason=retired_reason, pinned=False
    )
    model_version.status = ModelVersionStatus.ACTIVE
    model_version.status_reason = reason
    model_version.promotion_decision = decision
    model_version.promotion_reason = reason
    model_version.pinned = pinned
    model_version.activated_at = timezone.now()
    model_version.activated_by = activated_by
    if model_version._state.adding:
        model_version.save()
    else:
        model_version.save(
            update_fields=[
                "status",
                "status_reason",
                "promotion_decision",
                "promotion_reason",
                "pinned",
                "activated_at",
                "activated_by",
            ]
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


@transaction.atomic
def model_version_pin(
    *, model_version: ModelVersion, pinned: bool, pinned_by: User | None
) -> ModelVersion:
    """Pin the version (it becomes active, if it is not, and no training replaces it
    automatically) or unpin it (automatic promotion resumes with the next training run).

    Pinning under the project's lock: an inactive version is promoted (model_version_promote,
    with its re-predictions); the active one only gets the flag. Unpinning changes the flag
    only. Permission (owners, staff) is the caller's check.
    """
    project_lock(model_version.project_id)
    model_version.refresh_from_db()
    if not pinned:
        ModelVersion.objects.filter(pk=model_version.pk).update(pinned=False)
        model_version.pinned = False
        return model_version
    if model_version.status == ModelVersionStatus.ACTIVE:
        ModelVersion.objects.filter(pk=model_version.pk).update(pinned=True)
        model_version.pinned = True
        return model_version
    who = f" by {pinned_by}" if pinned_by else ""
    model_version_promote(
        model_version=model_version,
        reason=f"Activated and pinned{who}.",
        retired_reason=f"Retired: v{model_version.version} was pinned{who}.",
        activated_by=pinned_by,
        pinned=True,
    )
    return model_version
