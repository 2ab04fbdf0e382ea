"""Reads on the labeling side: which projects a user sees, the labeling queue, counts."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet, Subquery, Value

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
    and that no owner has settled by review."""
    return (
        Image.objects.filter(project=project, label_reviewed=False)
        .annotate(annotation_count=Count("annotations"))
        .filter(
            Q(annotation_count__lt=project.annotations_per_image)
            | Q(label_status=LabelStatus.CONFLICT)
        )
        .exclude(Exists(Annotation.objects.filter(image=OuterRef("pk"), user=user)))
        .order_by("created_at", "pk")
    )


def image_next_for(
    *, project: Project, user: AbstractBaseUser, exclude_ids: list[int] | tuple = ()
) -> Image | None:
    """The next image for the user to label, skipping the ones they skipped this session."""
    return images_needing_label_by(project=project, user=user).exclude(pk__in=exclude_ids).first()


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
    """Image counts per split × class × status: [{"split", "label", "status", "count"}].

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


def projects_with_counts_visible_to(*, user: AbstractBaseUser) -> QuerySet[Project]:
    """projects_visible_to with what a listing shows, in a fixed number of queries: classes
    prefetched, `image_count`, `labeled_count`, and the user's role as `user_role` ("owner"
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
            user_role=role,
        )
        .prefetch_related("classes")
        # Meta.ordering does not apply to aggregating queries: order explicitly for paging.
        .order_by("name", "pk")
    )


def project_members(*, project: Project) -> QuerySet[Membership]:
    """The project's memberships with their users, by username."""
    return Membership.objects.filter(project=project).select_related("user").order_by(
        "user__username"
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


def images_filtered(
    *,
    project: Project,
    split: str | None = None,
    label: LabelClass | None = None,
    status: str | None = None,
) -> QuerySet[Image]:
    """The project's images, oldest first, narrowed to a split, a consensus label and a
    label status when given."""
    images = Image.objects.filter(project=project)
    if split:
        images = images.filter(split=split)
    if label is not None:
        images = images.filter(label=label)
    if status:
        images = images.filter(label_status=status)
    return images.order_by("created_at", "pk")


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
