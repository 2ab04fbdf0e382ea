"""Reads on the labeling side: which projects a user sees, the labeling queue, counts."""

from collections.abc import Callable

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from labeling.models import Annotation, Image, LabelStatus, Project, Split


def projects_visible_to(*, user: AbstractBaseUser) -> QuerySet[Project]:
    """Projects the user belongs to; every project for staff."""
    projects = Project.objects.all()
    if not user.is_staff:
        projects = projects.filter(memberships__user=user)
    return projects.distinct()


# How another app orders the labeling queue: the classifier registers "most uncertain first
# once a model exists" (classifier.apps). Labeling knows nothing of models, so it asks
# whoever registered instead of importing them.
QueueOrdering = Callable[[QuerySet[Image], Project], QuerySet[Image]]
_queue_ordering: QueueOrdering | None = None


def labeling_queue_order_by(ordering: QueueOrdering | None) -> None:
    """Register `ordering(images, project) -> images` to order the labeling queue."""
    global _queue_ordering
    _queue_ordering = ordering


def images_needing_label_by(*, project: Project, user: AbstractBaseUser) -> QuerySet[Image]:
    """The labeling queue, oldest first (or as registered with labeling_queue_order_by):
    images this user has not labeled that still need annotations (fewer than the project
    requires, or a conflict an extra vote may settle), and that no owner has settled by
    review."""
    images = (
        Image.objects.filter(project=project, label_reviewed=False)
        .annotate(annotation_count=Count("annotations"))
        .filter(
            Q(annotation_count__lt=project.annotations_per_image)
            | Q(label_status=LabelStatus.CONFLICT)
        )
        .exclude(Exists(Annotation.objects.filter(image=OuterRef("pk"), user=user)))
        .order_by("created_at", "pk")
    )
    return _queue_ordering(images, project) if _queue_ordering else images


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
