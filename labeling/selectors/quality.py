"""Reads for the team's quality: how much annotators agree (labeling.agreement over the
project's annotations) and each annotator's figures. Computed in the request from one query
over the annotations: a few milliseconds per thousand labels, numpy and `krippendorff` only."""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth.models import User
from django.db.models import Count, Q, QuerySet

from labeling.agreement import Agreement, agreement
from labeling.models import Annotation, ImageSkip, LabelStatus, Project

# A pair of annotators gets a Cohen's kappa once they share this many images: below it one
# disagreement swings the figure too much to mean anything.
MIN_SHARED_IMAGES = 5
# Gaps between one annotator's consecutive labels longer than this are breaks, not the time
# a label took.
LABEL_TIME_BREAK_SECONDS = 10 * 60


@dataclass(frozen=True)
class Share:
    """A share of images and the number it rests on (share None when it rests on none)."""

    matching: int
    images: int

    @property
    def share(self) -> float | None:
        return self.matching / self.images if self.images else None


@dataclass
class AnnotatorFigures:
    user_id: int
    username: str
    labels: int = 0
    agreement_with_final: Share = Share(0, 0)
    gold_accuracy: Share = Share(0, 0)
    median_seconds_per_label: float | None = None
    # Labels that accepted the model's suggestion (Annotation.from_suggestion), of all labels.
    accepted_suggestions: Share = Share(0, 0)
    # Images they skipped (ImageSkip rows: brought back or not), and those still skipped.
    skips: int = 0
    skipped_now: int = 0
    _times: list[datetime] = field(default_factory=list, repr=False)


def _annotations(project: Project, split: str | None) -> QuerySet[Annotation]:
    annotations = Annotation.objects.filter(image__project=project)
    if split:
        annotations = annotations.filter(image__split=split)
    return annotations.order_by()


@dataclass(frozen=True)
class ProjectAgreement:
    agreement: Agreement
    usernames: dict[Hashable, str]


def project_agreement(*, project: Project, split: str | None = None) -> ProjectAgreement:
    """Percent agreement, Krippendorff's alpha and each pair's Cohen's kappa over the
    project's (or a split's) images with two or more labels."""
    labels: dict[int, dict[Hashable, Hashable]] = defaultdict(dict)
    usernames: dict[Hashable, str] = {}
    rows = _annotations(project, split).values_list(
        "image_id", "user_id", "user__username", "label_class_id"
    )
    for image_id, user_id, username, class_id in rows:
        labels[image_id][user_id] = class_id
        usernames[user_id] = username
    figures = agreement(list(labels.values()), min_shared_images=MIN_SHARED_IMAGES)
    return ProjectAgreement(agreement=figures, usernames=usernames)


def project_annotator_figures(
    *, project: Project, split: str | None = None, user: User | None = None
) -> list[AnnotatorFigures]:
    """Per annotator (only `user`, when given), by username: labels given, agreement with
    the image's final label (the consensus or an owner's review; images still without one
    left out), accuracy on gold images, the share of labels that accepted the model's
    suggestion, the median seconds between consecutive labels (breaks over
    LABEL_TIME_BREAK_SECONDS left out), and their skips. Someone who only skipped is listed
    too, with no labels."""
    annotations = _annotations(project, split)
    if user is not None:
        annotations = annotations.filter(user=user)
    rows = annotations.values_list(
        "user_id",
        "user__username",
        "label_class_id",
        "created_at",
        "image__label_id",
        "image__label_status",
        "image__gold",
        "from_suggestion",
    )
    figures: dict[int, AnnotatorFigures] = {}
    final: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    gold: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    accepted: dict[int, int] = defaultdict(int)
    for user_id, username, class_id, created_at, label_id, status, is_gold, suggested in rows:
        row = figures.setdefault(user_id, AnnotatorFigures(user_id=user_id, username=username))
        row.labels += 1
        accepted[user_id] += bool(suggested)
        row._times.append(created_at)
        if status == LabelStatus.LABELED and label_id is not None:
            final[user_id][0] += class_id == label_id
            final[user_id][1] += 1
            if is_gold:
                gold[user_id][0] += class_id == label_id
                gold[user_id][1] += 1
    for user_id, row in figures.items():
        row.agreement_with_final = Share(*final[user_id])
        row.gold_accuracy = Share(*gold[user_id])
        row.accepted_suggestions = Share(accepted[user_id], row.labels)
        times = sorted(row._times)
        gaps = [
            seconds
            for earlier, later in itertools.pairwise(times)
            if (seconds := (later - earlier).total_seconds()) <= LABEL_TIME_BREAK_SECONDS
        ]
        row.median_seconds_per_label = statistics.median(gaps) if gaps else None
    _skips_add(figures, project=project, split=split, user=user)
    return sorted(figures.values(), key=lambda row: row.username.lower())


def _skips_add(
    figures: dict[int, AnnotatorFigures], *, project: Project, split: str | None, user: User | None
) -> None:
    """Each annotator's skips in the project (or split), counted in one grouped query."""
    skips = ImageSkip.objects.filter(image__project=project)
    if split:
        skips = skips.filter(image__split=split)
    if user is not None:
        skips = skips.filter(user=user)
    counted = (
        skips.order_by()
        .values("user_id", "user__username")
        .annotate(total=Count("pk"), still_open=Count("pk", filter=Q(restored_at=None)))
    )
    for counts in counted:
        row = figures.setdefault(
            counts["user_id"],
            AnnotatorFigures(user_id=counts["user_id"], username=counts["user__username"]),
        )
        row.skips, row.skipped_now = counts["total"], counts["still_open"]
