"""Data health: the health-check job, its findings, and the owner's answers to them.

`health_check_start` writes a HealthCheck row and sends it to a "training" worker
(classifier.worker.health), after each training run and on demand. The worker hands what it
found to `health_check_finish`, which replaces the project's DataIssue rows in one unit. Owners
answer suspected label errors (`label_error_keep`, `label_error_relabel`) and move leaked
near-duplicate groups into one split (`split_leaks_fix`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from classifier.models import (
    DataIssue,
    DataIssueKind,
    HealthCheck,
    HealthCheckTrigger,
    JobStatus,
    LabelCheckDecision,
    LabelCheckReview,
)
from classifier.services.jobs import (
    job_dispatch_on_commit,
    job_fail,
    job_finished_signal_send,
    job_is_stale,
    job_worker_lost_message,
)
from classifier.services.versions import project_lock
from labeling import services as labeling_services
from labeling.models import Image, LabelClass, Project, Split

# The order in which `split_leaks_fix` picks the split a leaked group moves into, after the
# split asked for: a near-duplicate in train only makes training see a photo twice, one in
# validation or test makes the accuracy promotion trusts look better than it is.
SPLIT_PREFERENCE = (Split.TRAIN, Split.VALIDATION, Split.TEST)


@transaction.atomic
def health_check_start(
    *,
    project: Project,
    requested_by: User | None,
    trigger: str = HealthCheckTrigger.ON_DEMAND,
) -> tuple[HealthCheck, bool]:
    """Ask for a health check of the project. Returns (check, created).

    One at a time per project: under the project's row lock a queued or running check is
    returned instead (created=False), sent again if its message never reached the broker; one
    whose worker went silent is failed first. A new check's message is sent after commit.
    """
    project_lock(project.pk)
    existing = HealthCheck.objects.filter(
        project=project, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
    ).first()
    if existing is not None and job_is_stale(existing):
        job_fail(existing, job_worker_lost_message(existing))
        existing = None
    if existing is not None:
        if existing.status == JobStatus.QUEUED and existing.enqueued_at is None:
            job_dispatch_on_commit(existing)
        return existing, False
    check = HealthCheck.objects.create(project=project, requested_by=requested_by, trigger=trigger)
    job_dispatch_on_commit(check)
    return check, True


@dataclass
class HealthFindings:
    """What a worker found, as DataIssue rows to be (unsaved: health_check_finish saves them)."""

    issues: list[DataIssue] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def health_check_finish(*, check: HealthCheck, findings: HealthFindings) -> bool:
    """Replace the project's findings with this check's and mark it succeeded, in one unit.

    Returns False, writing nothing, when the check is no longer running (failed as lost
    meanwhile): a newer check may already have written its findings.
    """
    with transaction.atomic():
        locked = HealthCheck.objects.select_for_update().only("status").get(pk=check.pk)
        if locked.status != JobStatus.RUNNING:
            return False
        DataIssue.objects.filter(project_id=check.project_id).delete()
        for issue in findings.issues:
            issue.project_id = check.project_id
            issue.health_check = check
        DataIssue.objects.bulk_create(findings.issues, batch_size=500)
        counts = dict.fromkeys(DataIssueKind.values, 0)
        for issue in findings.issues:
            counts[issue.kind] += 1
        now = timezone.now()
        HealthCheck.objects.filter(pk=check.pk).update(
            status=JobStatus.SUCCEEDED,
            progress=100,
            counts=counts,
            timings=findings.timings,
            finished_at=now,
            heartbeat_at=now,
            updated_at=now,
        )
        job_finished_signal_send(check)
    return True


# --------------------------------------------------------------------------------------
# Suspected label errors: the owner's answers
# --------------------------------------------------------------------------------------


def _label_issue_checked(issue: DataIssue) -> Image:
    if issue.kind != DataIssueKind.LABEL_ERROR or issue.image_id is None:
        raise ValidationError("Not a suspected label error.")
    return Image.objects.select_for_update().get(pk=issue.image_id)


@transaction.atomic
def label_error_keep(*, issue: DataIssue, reviewed_by: User) -> LabelCheckReview:
    """The owner keeps the image's label: recorded, and the issue goes. Health checks do not
    suggest the image again while it keeps that label (a later change of label, by anyone,
    makes it eligible again)."""
    image = _label_issue_checked(issue)
    if image.label_id is None:
        raise ValidationError("The image has no label to keep any more.")
    review = LabelCheckReview.objects.create(
        image=image,
        label_id=image.label_id,
        decision=LabelCheckDecision.KEPT,
        suggested_label_id=issue.detail.get("suggested_label_id"),
        reviewed_by=reviewed_by,
    )
    issue.delete()
    return review


@transaction.atomic
def label_error_relabel(
    *, issue: DataIssue, label_class: LabelClass, reviewed_by: User
) -> LabelCheckReview:
    """The owner gives the image another label: an owner's review of the image, final
    whatever the annotations say (labeling.services.image_review, as for a conflict),
    recorded, and the issue goes."""
    image = _label_issue_checked(issue)
    labeling_services.image_review(image=image, label_class=label_class)
    review = LabelCheckReview.objects.create(
        image=image,
        label=label_class,
        decision=LabelCheckDecision.RELABELED,
        suggested_label_id=issue.detail.get("suggested_label_id"),
        reviewed_by=reviewed_by,
    )
    issue.delete()
    return review


# --------------------------------------------------------------------------------------
# Split leaks
# --------------------------------------------------------------------------------------


def leak_target_split(splits: Sequence[str], *, preferred: str = Split.TRAIN) -> str:
    """Where a leaked group goes: the first split, in the order `preferred`, then train,
    validation, test, that already holds one of its images. So by default a group with an
    image in train moves into train, one in validation and test into validation; a group
    never lands in a split none of its images was in (no split is emptied into another)."""
    order = [preferred, *(split for split in SPLIT_PREFERENCE if split != preferred)]
    return next(split for split in order if split in splits)


@transaction.atomic
def split_leaks_fix(*, project: Project, preferred: str = Split.TRAIN) -> int:
    """Move every leaked near-duplicate group of the latest health check into one split
    (leak_target_split: `preferred`, train by default, when the group has an image there).

    The split_leak issues go; the near_duplicate groups' recorded splits are brought up to
    date. Returns how many images changed split. A group whose images were deleted since
    is fixed over the ones left.
    """
    if preferred not in Split.values:
        raise ValidationError(f"Unknown split {preferred!r}; use one of {', '.join(Split.values)}.")
    project_lock(project.pk)
    leaks = list(DataIssue.objects.filter(project=project, kind=DataIssueKind.SPLIT_LEAK))
    member_ids = {image_id for leak in leaks for image_id in leak.image_ids}
    splits = dict(
        Image.objects.filter(project=project, pk__in=member_ids).values_list("pk", "split")
    )
    moves: dict[str, list[int]] = {}
    for leak in leaks:
        present = [image_id for image_id in leak.image_ids if image_id in splits]
        if not present:
            continue
        target = leak_target_split([splits[i] for i in present], preferred=preferred)
        for image_id in present:
            if splits[image_id] != target:
                moves.setdefault(target, []).append(image_id)
                splits[image_id] = target
    moved = 0
    for target, image_ids in moves.items():
        moved += labeling_services.images_split_set(image_ids=image_ids, split=target)
    DataIssue.objects.filter(pk__in=[leak.pk for leak in leaks]).delete()
    groups = DataIssue.objects.filter(project=project, kind=DataIssueKind.NEAR_DUPLICATE)
    changed = []
    for group in groups:
        recorded = group.detail.get("splits", {})
        updated = {key: splits.get(int(key), value) for key, value in recorded.items()}
        if updated != recorded:
            group.detail = {**group.detail, "splits": updated}
            changed.append(group)
    DataIssue.objects.bulk_update(changed, ["detail"])
    return moved
