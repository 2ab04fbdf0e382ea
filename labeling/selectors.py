"""Reads on the labeling side: which projects a user sees, the labeling queue, counts."""

from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.core.paginator import Page, Paginator
from django.db.models import (
    Count,
    Exists,
    IntegerField,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce

from labeling.models import (
    Annotation,
    Image,
    LabelClass,
    LabelStatus,
    Membership,
    Project,
    Role,
    Split,
)


def projects_visible_to(*, user: AbstractBaseUser) -> QuerySet[Project]:
    """Projects the user belongs to; every project for staff."""
    projects = Project.objects.all()
    if not user.is_staff:
        projects = projects.filter(memberships__user=user)
    return projects.distinct()


def images_needing_label_by(*, project: Project, user: AbstractBaseUser) -> QuerySet[Image]:
    """The labeling queue, oldest first: images this user has not labeled that still need
    annotations (fewer than the project requires, or a conflict an extra vote may settle),
    and that no owner has settled by review. (The labeling page offers it most uncertain
    first once a model exists: classifier.selectors.images_to_label_next.)"""
    return (
        # The count is a subquery per image, not a join grouped by image: at 10,000 images
        # the grouping took most of the queue's time (bench/page_latency.py).
        images_with_annotation_count(Image.objects.filter(project=project, label_reviewed=False))
        .filter(
            Q(annotation_count__lt=project.annotations_per_image)
            | Q(label_status=LabelStatus.CONFLICT)
        )
        .exclude(Exists(Annotation.objects.filter(image=OuterRef("pk"), user=user)))
        .order_by("created_at", "pk")
    )


def project_split_progress(*, project: Project) -> dict[str, dict[str, int]]:
    """{split: {"labeled": n, "total": n}} for the labeling page's counter."""
    rows = (
        Image.objects.filter(project=project)
        .values("split")
        .annotate(
            total=Count("pk"), labeled=Count("pk", filter=Q(label_status=LabelStatus.LABELED))
        )
    )
    progress = {split: {"labeled": 0, "total": 0} for split in Split.values}
    for row in rows:
        progress[row["split"]] = {"labeled": row["labeled"], "total": row["total"]}
    return progress


def project_counts(*, project: Project) -> list[dict]:
    """Image counts per split x class x status: [{"split", "label", "status", "count"}].

    "label" is the class name for labeled images and None for unlabeled and conflict ones.
    """
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


# --- The pages: home, dashboard, grid and gallery ---------------------------------------------


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
    for count in project_counts(project=project):
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


def project_member_contributions(*, project: Project) -> list[Membership]:
    """The project's members, most active first, each with `annotation_count` and
    `last_annotated_at` (their annotations in this project) and `upload_count`. Two queries.

    The annotations are counted in one pass over the project's annotations, grouped by user,
    and the uploads by a subquery per member on the (project, uploaded_by) index. Joining
    every member to every annotation and grouping afterwards, with the uploads subquery in
    the grouped row, took over a minute at 10,000 images on SQLite, which ran the subquery
    for every joined row (bench/page_latency.py)."""
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
    members = list(
        Membership.objects.filter(project=project)
        .select_related("user")
        .annotate(upload_count=Coalesce(Subquery(uploads, output_field=IntegerField()), 0))
    )
    for member in members:
        figures = per_user.get(member.user_id, {})
        member.annotation_count = figures.get("count", 0)
        member.last_annotated_at = figures.get("last")
    return sorted(members, key=lambda m: (-m.annotation_count, m.user.get_username()))


# How many of the newest rows project_recent_activity reads; when they do not hold enough
# complete groups (a burst: hundreds labeled or uploaded in a few minutes), ten times as
# many, and so on. Few, because every row read is parsed and grouped in Python.
ACTIVITY_WINDOWS = (250, 2_500, 25_000, None)


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _newest_groups(
    rows: QuerySet, *, at: str, person: str, fields: tuple[str, ...], limit: int
) -> list[list[dict]]:
    """The newest `limit` groups of the rows by (person, minute of `at`), newest first; each
    group is its rows as dicts of `at`, `person` and `fields`, newest first.

    Reads the newest rows only, as many as it takes: a group is complete when its minute is
    newer than the oldest row read, since no older row can belong to it. An aggregate over
    every row of a 10,000-image project instead took most of a second on SQLite, which
    truncates timestamps with a Python function per row (bench/page_latency.py).
    """
    for window in ACTIVITY_WINDOWS:
        newest = rows.order_by(f"-{at}").values(at, person, *fields)
        read = list(newest[:window] if window else newest)
        cut = window is not None and len(read) == window  # older rows were left unread
        oldest_minute = _minute(read[-1][at]) if cut else None
        groups: dict[tuple, list[dict]] = {}
        for row in read:
            minute = _minute(row[at])
            if minute == oldest_minute:
                break  # that minute may go on in the rows left unread
            groups.setdefault((row[person], minute), []).append(row)
        if not cut or len(groups) >= limit:
            return sorted(groups.values(), key=lambda group: group[0][at], reverse=True)[:limit]
    raise AssertionError("the last window reads every row")


def project_recent_activity(*, project: Project, limit: int = 10) -> list[dict]:
    """The latest labeling and uploads, newest first, grouped per person and minute:
    [{"kind": "annotation", "at", "user", "count", "per_class": [{"name", "color", "count"}]}
    | {"kind": "upload", "at", "user", "count"}]. Two queries (more after a burst, see
    _newest_groups)."""
    labeling = [
        {
            "kind": "annotation",
            "user": group[0]["user__username"],
            "at": group[0]["updated_at"],
            "count": len(group),
            "per_class": [
                {"name": name, "color": color, "count": count}
                for (name, color), count in sorted(
                    Counter(
                        (row["label_class__name"], row["label_class__color"]) for row in group
                    ).items()
                )
            ],
        }
        for group in _newest_groups(
            Annotation.objects.filter(image__project=project),
            at="updated_at",
            person="user__username",
            fields=("label_class__name", "label_class__color"),
            limit=limit,
        )
    ]
    uploads = [
        {
            "kind": "upload",
            "user": group[0]["uploaded_by__username"] or "someone",
            "at": group[0]["created_at"],
            "count": len(group),
        }
        for group in _newest_groups(
            Image.objects.filter(project=project),
            at="created_at",
            person="uploaded_by__username",
            fields=(),
            limit=limit,
        )
    ]
    events = labeling + uploads
    events.sort(key=lambda event: event["at"], reverse=True)
    return events[:limit]


def project_conflicts(*, project: Project) -> QuerySet[Image]:
    """The images whose annotators disagree, oldest first, with their annotations."""
    return (
        Image.objects.filter(project=project, label_status=LabelStatus.CONFLICT)
        .prefetch_related(
            Prefetch(
                "annotations",
                queryset=Annotation.objects.select_related("user", "label_class").order_by(
                    "label_class__order", "user__username"
                ),
            )
        )
        .order_by("created_at", "pk")
    )


def image_annotations(*, image: Image) -> QuerySet[Annotation]:
    """Who labeled the image with what, and when; first annotation first."""
    return (
        Annotation.objects.filter(image=image)
        .select_related("user", "label_class")
        .order_by("created_at", "pk")
    )


def _filter_split(images: QuerySet[Image], value, user) -> QuerySet[Image]:
    return images.filter(split=value)


def _filter_status(images: QuerySet[Image], value, user) -> QuerySet[Image]:
    return images.filter(label_status=value)


def _filter_label(images: QuerySet[Image], value, user) -> QuerySet[Image]:
    return images.filter(label=value)


def _filter_mine(images: QuerySet[Image], value, user) -> QuerySet[Image]:
    mine = Exists(Annotation.objects.filter(image=OuterRef("pk"), user=user))
    return images.filter(mine) if value == "labeled" else images.exclude(mine)


# The labeling side's image filters (labeling.forms.ImageFilterForm's fields, the API's
# query parameters): name -> function(images, value, user). The gallery's prediction filters
# are the classifier's (classifier.image_filters), applied by the pages that show them.
_IMAGE_FILTERS: dict[
    str, Callable[[QuerySet[Image], object, AbstractBaseUser | None], QuerySet[Image]]
] = {
    "split": _filter_split,
    "status": _filter_status,
    "label": _filter_label,
    "mine": _filter_mine,
}


def images_filtered(
    *, project: Project, filters: Mapping[str, object], user: AbstractBaseUser | None
) -> QuerySet[Image]:
    """The project's images matching every non-empty filter of split, status, label (a
    LabelClass) and mine ("labeled" or "unlabeled" by `user`), oldest first, with their
    consensus label. Other names are ignored."""
    images = Image.objects.filter(project=project).select_related("label")
    for name, value in filters.items():
        if value not in (None, "", []) and name in _IMAGE_FILTERS:
            images = _IMAGE_FILTERS[name](images, value, user)
    return images.order_by("created_at", "pk")


def images_with_annotation_count(images: QuerySet[Image]) -> QuerySet[Image]:
    """The images with `annotation_count`, a subquery per image rather than a join grouped
    by image: the query stays one without GROUP BY, so counting a page's images and finding
    its rows need not compute it for every image (see ImagePaginator)."""
    counts = (
        Annotation.objects.filter(image=OuterRef("pk"))
        .order_by()
        .values("image")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return images.annotate(
        annotation_count=Coalesce(Subquery(counts, output_field=IntegerField()), 0)
    )


class ImagePaginator(Paginator):
    """A Paginator for image lists whose rows carry subqueries (predictions, annotation
    counts) or prefetches: it counts the bare rows, picks the page's ids on the bare rows in
    the list's order (an index scan), and only then loads those few rows with everything they
    carry. Slicing the full query instead makes the database compute every subquery for every
    row it skips: the last gallery page of a 10,000-image project took 250 ms on SQLite
    (bench/page_latency.py)."""

    def page(self, number) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        ids = list(self.object_list.values_list("pk", flat=True)[bottom:top])
        # Unordered, so that the database looks the rows up by id instead of walking the
        # list's index for its order (the order is the ids').
        loaded = {image.pk: image for image in self.object_list.filter(pk__in=ids).order_by()}
        return self._get_page([loaded[pk] for pk in ids if pk in loaded], number, self)


def projects_with_counts_visible_to(*, user: AbstractBaseUser) -> QuerySet[Project]:
    """projects_visible_to with what a listing shows (the home page, the API's project list), in
    a fixed number of queries: classes prefetched, `image_count`, `labeled_count`,
    `conflict_count`, and the user's role as `user_role` ("owner"
    for staff, as in labeling.permissions)."""
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


def images_visible_to(*, user: AbstractBaseUser) -> QuerySet[Image]:
    """Images of the projects the user belongs to; every image for staff."""
    images = Image.objects.all()
    if not user.is_staff:
        images = images.filter(project__memberships__user=user)
    return images


def images_with_annotations(images: QuerySet[Image]) -> QuerySet[Image]:
    """The images with their label, uploader and annotations (users and classes) loaded in
    three queries, whatever their number."""
    return images.select_related("label", "uploaded_by").prefetch_related(
        Prefetch(
            "annotations",
            queryset=Annotation.objects.select_related("user", "label_class").order_by(
                "created_at", "pk"
            ),
        )
    )


def label_class_by_name(*, project: Project, name: str) -> LabelClass | None:
    return LabelClass.objects.filter(project=project, name=name).first()


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
        rows = [(split, name, LabelStatus.LABELED) for name in class_names]
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
