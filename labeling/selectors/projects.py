"""Projects as a user sees them: which ones, their members, their counts."""

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypedDict, cast

from django.contrib.auth.models import User
from django.db import connection
from django.db.models import (
    Count,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce

from labeling.models import (
    Annotation,
    Image,
    ImageTally,
    LabelClass,
    LabelStatus,
    Membership,
    MemberTally,
    Project,
    Role,
    Split,
)

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


def projects_visible_to(*, user: User) -> QuerySet[Project]:
    """Projects the user belongs to; every project for staff."""
    projects = Project.objects.all()
    if not user.is_staff:
        projects = projects.filter(memberships__user=user)
    return projects.distinct()


def projects_with_counts_visible_to(*, user: User) -> QuerySet[Project]:
    """projects_visible_to with what a listing shows (the home page, the API's project list), in
    a fixed number of queries: classes prefetched, `image_count`, `labeled_count`,
    `conflict_count`, and the user's role as `user_role` ("owner"
    for staff, as in labeling.permissions)."""
    role: Value | Subquery
    if user.is_staff:
        role = Value(Role.OWNER)
    else:
        role = Subquery(
            Membership.objects.filter(project=OuterRef("pk"), user=user).values("role")[:1]
        )
    return (
        projects_visible_to(user=user)
        .annotate(
            image_count=Count("images", distinct=True),
            labeled_count=Count(
                "images", filter=Q(images__label_status=LabelStatus.LABELED), distinct=True
            ),
            conflict_count=Count(
                "images", filter=Q(images__label_status=LabelStatus.CONFLICT), distinct=True
            ),
            user_role=role,
        )
        .prefetch_related("classes")
        # Meta.ordering does not apply to aggregating queries: order explicitly for paging.
        .order_by("name", "pk")
    )


def project_members(*, project: Project) -> QuerySet[Membership]:
    """The project's memberships with their users, by username."""
    return (
        Membership.objects.filter(project=project).select_related("user").order_by("user__username")
    )


class MemberContribution(TypedDict):
    """What project_member_contributions adds to each membership."""

    annotation_count: int
    upload_count: int
    last_annotated_at: datetime | None


def project_member_contributions(
    *, project: Project
) -> "list[WithAnnotations[Membership, MemberContribution]]":
    """The project's members, most active first, each with `annotation_count` and
    `last_annotated_at` (their annotations in this project) and `upload_count`. Two queries.

    The annotations are counted in one pass over the project's annotations, grouped by user,
    and the uploads by a subquery per member on the (project, uploaded_by) index. Joining
    every member to every annotation and grouping afterwards, with the uploads subquery in
    the grouped row, took over a minute at 10,000 images on SQLite, which ran the subquery
    for every joined row (bench/page_latency.py). On PostgreSQL the figures are the kept
    counts instead (MemberTally), so the cost does not grow with the project."""
    if _tally_kept():
        # The kept counts (MemberTally, PostgreSQL's triggers): two small queries.
        kept = {row.user_id: row for row in MemberTally.objects.filter(project_id=project.pk)}
        members = cast(
            "list[WithAnnotations[Membership, MemberContribution]]",  # its fields are set below
            list(Membership.objects.filter(project=project).select_related("user")),
        )
        for member in members:
            row = kept.get(member.user_id)
            member.annotation_count = row.annotations if row else 0
            member.upload_count = row.uploads if row else 0
            member.last_annotated_at = row.last_annotated_at if row else None
        return sorted(members, key=lambda m: (-m.annotation_count, m.user.get_username()))
    per_user = {
        row["user"]: row
        for row in Annotation.objects.filter(image__project=project)
        .order_by()
        .values("user")
        .annotate(count=Count("pk"), last=Max("updated_at"))
    }
    uploads = (
        Image.objects.filter(project=project, uploaded_by=OuterRef("user"))
        .order_by()
        .values("uploaded_by")
        .annotate(count=Count("pk"))
        .values("count")
    )
    members = cast(
        "list[WithAnnotations[Membership, MemberContribution]]",  # the others are set below
        list(
            Membership.objects.filter(project=project)
            .select_related("user")
            .annotate(upload_count=Coalesce(Subquery(uploads, output_field=IntegerField()), 0))
        ),
    )
    for member in members:
        figures = per_user.get(member.user_id, {})
        member.annotation_count = figures.get("count", 0)
        member.last_annotated_at = figures.get("last")
    return sorted(members, key=lambda m: (-m.annotation_count, m.user.get_username()))


def label_class_by_name(*, project: Project, name: str) -> LabelClass | None:
    return LabelClass.objects.filter(project=project, name=name).first()


def _tally_kept() -> bool:
    """Whether the database keeps labeling_imagetally (PostgreSQL's triggers, migration
    0006); elsewhere the images are counted."""
    return connection.vendor == "postgresql"


def project_image_count(*, project: Project) -> int:
    """How many images the project has. One query, off the kept counts on PostgreSQL
    (ImageTally) whatever the project's size; elsewhere the images are counted."""
    if _tally_kept():
        kept = ImageTally.objects.filter(project_id=project.pk).aggregate(total=Sum("count"))
        return int(kept["total"] or 0)
    return Image.objects.filter(project=project).count()


def project_split_progress(*, project: Project) -> dict[str, dict[str, int]]:
    """{split: {"labeled": n, "total": n}} for the labeling page's counter. One query, off
    the kept counts on PostgreSQL (ImageTally) whatever the project's size."""
    progress = {split: {"labeled": 0, "total": 0} for split in Split.values}
    rows: Iterable[dict[str, Any]]  # {"split", "total", "labeled"}
    if _tally_kept():
        rows = (
            ImageTally.objects.filter(project_id=project.pk)
            .values("split")
            .annotate(
                total=Sum("count"),
                labeled=Sum("count", filter=Q(label_status=LabelStatus.LABELED)),
            )
            .order_by()
        )
    else:
        rows = (
            Image.objects.filter(project=project)
            .values("split")
            .annotate(
                total=Count("pk"), labeled=Count("pk", filter=Q(label_status=LabelStatus.LABELED))
            )
        )
    for row in rows:
        if row["split"] in progress:
            progress[row["split"]] = {"labeled": row["labeled"] or 0, "total": row["total"] or 0}
    return progress


def project_counts(*, project: Project, classes: list[LabelClass] | None = None) -> list[dict]:
    """Image counts per split x class x status: [{"split", "label", "status", "count"}].

    "label" is the class name for labeled images and None for unlabeled and conflict ones.
    Off the kept counts on PostgreSQL (one query, and one for the class names unless
    `classes` are given).
    """
    if _tally_kept():
        if classes is None:
            classes = list(LabelClass.objects.filter(project=project))
        names = {label_class.pk: label_class.name for label_class in classes}
        merged: dict[tuple, int] = {}
        for split, status, label_key, count in ImageTally.objects.filter(
            project_id=project.pk
        ).values_list("split", "label_status", "label_key", "count"):
            # A deleted class's images count as labeled without a class, as in the table.
            key = (split, names.get(label_key), status)
            merged[key] = merged.get(key, 0) + count
        return [
            {"split": split, "label": label, "status": status, "count": count}
            for (split, label, status), count in sorted(
                merged.items(), key=lambda item: (item[0][0], item[0][1] or "", item[0][2])
            )
            if count
        ]
    rows = (
        Image.objects.filter(project=project)
        .values("split", "label__name", "label_status")
        .annotate(count=Count("pk"))
        .order_by("split", "label__name", "label_status")
    )
    return [
        {
            "split": row["split"],
            "label": row["label__name"],
            "status": row["label_status"],
            "count": row["count"],
        }
        for row in rows
    ]


def project_count_table(*, project: Project, classes: list[LabelClass]) -> dict:
    """The dashboard's split-by-class table: per split, the labeled images of each class (in
    the order of `classes`), all labeled, unlabeled, conflicts and total; and a row of totals.

    {"rows": [{"split", "split_label", "per_class": [n, ...], "labeled", "unlabeled",
    "conflict", "total"}], "totals": {same keys}}
    """

    def empty_row(split: str, split_label: str) -> dict:
        return {
            "split": split,
            "split_label": split_label,
            "per_class": [0] * len(classes),
            "labeled": 0,
            "unlabeled": 0,
            "conflict": 0,
            "total": 0,
        }

    column_of = {label_class.name: index for index, label_class in enumerate(classes)}
    rows = {split.value: empty_row(split.value, split.label) for split in Split}
    totals = empty_row("", "All splits")
    for count in project_counts(project=project, classes=classes):
        for row in (rows[count["split"]], totals):
            row["total"] += count["count"]
            if count["status"] == LabelStatus.LABELED and count["label"] in column_of:
                row["per_class"][column_of[count["label"]]] += count["count"]
                row["labeled"] += count["count"]
            elif count["status"] == LabelStatus.CONFLICT:
                row["conflict"] += count["count"]
            else:
                row["unlabeled"] += count["count"]
    return {"rows": list(rows.values()), "totals": totals}


def project_stats(*, project: Project) -> dict:
    """Image counts of the project: a full split x class x status table (zeros included) and
    totals per split.

    {"total": n,
     "splits": {split: {"total", "labeled", "unlabeled", "conflict"}},
     "counts": [{"split", "label", "status", "count"}]}  ("label" is None unless "labeled")
    """
    class_names = list(project.classes.order_by("order", "pk").values_list("name", flat=True))
    found = {
        (row["split"], row["label"], row["status"]): row["count"]
        for row in project_counts(project=project)
    }
    counts = []
    splits = {}
    for split in Split.values:
        rows: list[tuple[str, str | None, LabelStatus]] = [
            (split, name, LabelStatus.LABELED) for name in class_names
        ]
        rows += [(split, None, LabelStatus.UNLABELED), (split, None, LabelStatus.CONFLICT)]
        for key in rows:
            counts.append(
                {"split": key[0], "label": key[1], "status": key[2], "count": found.get(key, 0)}
            )
        per_status = dict.fromkeys(LabelStatus.values, 0)
        for (row_split, _label, status), count in found.items():
            if row_split == split:
                per_status[status] += count
        splits[split] = {"total": sum(per_status.values()), **per_status}
    return {"total": sum(found.values()), "splits": splits, "counts": counts}


def label_class_usage(*, project: Project) -> Counter[int]:
    """{class id: how many labels use it}: annotations plus owners' review decisions."""
    usage: Counter[int] = Counter(
        dict(
            Annotation.objects.filter(label_class__project=project)
            .values("label_class")
            .annotate(uses=Count("pk"))
            .values_list("label_class", "uses")
        )
    )
    usage.update(
        dict(
            Image.objects.filter(project=project, label_reviewed=True, label__isnull=False)
            .values("label")
            .annotate(uses=Count("pk"))
            .values_list("label", "uses")
        )
    )
    return usage
