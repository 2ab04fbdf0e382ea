"""Images as the labeling page, the grid, the gallery, the image page and the API list them:
the labeling queue, filters, annotation counts, paging."""

import random
from collections.abc import Callable, Collection, Mapping, Sequence

from django.contrib.auth.models import User
from django.core.paginator import Page, Paginator
from django.db.models import (
    Count,
    Exists,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce

from labeling.models import (
    Annotation,
    Image,
    ImageSkip,
    LabelStatus,
    Project,
)


def images_needing_label_by(*, project: Project, user: User) -> QuerySet[Image]:
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


def _open_skip_of(user: User) -> Exists:
    """Whether the outer image is one the user skipped and has not brought back."""
    return Exists(ImageSkip.objects.filter(image=OuterRef("pk"), user=user, restored_at=None))


def images_to_label_by(*, project: Project, user: User) -> QuerySet[Image]:
    """images_needing_label_by without the images the user skipped: what their queue offers,
    on the labeling page and through the API alike."""
    return images_needing_label_by(project=project, user=user).exclude(_open_skip_of(user))


def images_skipped_by(*, project: Project, user: User) -> QuerySet[Image]:
    """The images the user skipped (and has not brought back) that still need their label,
    in the order they skipped them: what "show skipped" brings back."""
    skipped_at = ImageSkip.objects.filter(image=OuterRef("pk"), user=user, restored_at=None).values(
        "skipped_at"
    )[:1]
    return (
        images_needing_label_by(project=project, user=user)
        .filter(_open_skip_of(user))
        .annotate(skipped_at=Subquery(skipped_at))
        .order_by("skipped_at", "pk")
    )


def image_skips_open(*, project: Project, user: User) -> QuerySet[ImageSkip]:
    """The user's skips in the project that they have not brought back, oldest first, with
    their images (labeled since or not)."""
    return (
        ImageSkip.objects.filter(image__project=project, user=user, restored_at=None)
        .select_related("image")
        .order_by("skipped_at", "pk")
    )


def gold_images_unlabeled_by(
    *, project: Project, user: User, exclude_ids: Collection[int] = ()
) -> QuerySet[Image]:
    """The project's gold images this user has not labeled (nor skipped) yet, in random
    order."""
    return (
        Image.objects.filter(project=project, gold=True)
        .exclude(Exists(Annotation.objects.filter(image=OuterRef("pk"), user=user)))
        .exclude(_open_skip_of(user))
        .exclude(pk__in=exclude_ids)
        .order_by("?")
    )


def queue_with_gold(
    *, queue: Sequence[Image], gold: Sequence[Image], percent: int, rng: random.Random
) -> list[Image]:
    """The queue with gold images mixed in: before each queued image, with probability
    `percent`/100, one of `gold` (while any is left). Gold images only come along with real
    work: an empty queue stays empty."""
    mixed: list[Image] = []
    remaining_gold = list(gold)
    for image in queue:
        if remaining_gold and rng.random() * 100 < percent:
            mixed.append(remaining_gold.pop())
        mixed.append(image)
    return mixed


def images_visible_to(*, user: User) -> QuerySet[Image]:
    """Images of the projects the user belongs to; every image for staff."""
    images = Image.objects.all()
    if not user.is_staff:
        images = images.filter(project__memberships__user=user)
    return images


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
_IMAGE_FILTERS: dict[str, Callable[[QuerySet[Image], object, User | None], QuerySet[Image]]] = {
    "split": _filter_split,
    "status": _filter_status,
    "label": _filter_label,
    "mine": _filter_mine,
}


def images_filtered(
    *, project: Project, filters: Mapping[str, object], user: User | None
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


class ImagePaginator(Paginator):
    """A Paginator for image lists whose rows carry subqueries (predictions, annotation
    counts) or prefetches: it counts the bare rows, picks the page's ids on the bare rows in
    the list's order (an index scan), and only then loads those few rows with everything they
    carry. Slicing the full query instead makes the database compute every subquery for every
    row it skips: the last gallery page of a 10,000-image project took 250 ms on SQLite
    (bench/page_latency.py)."""

    # Paginator accepts any sliceable sequence; this one needs the queryset it was given.
    object_list: QuerySet[Image]

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
        return Page([loaded[pk] for pk in ids if pk in loaded], number, self)


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
