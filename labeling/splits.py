"""The automatic train/validation/test split.

Each image is placed in the split that is furthest behind the project's ratios *within its
stratum*: the image's class when it is known, with unknown-label images forming one stratum of
their own. Placing the n+1-th image of a stratum in the split with the largest deficit
`ratio * (n + 1) - count` (ties broken in the fixed order train, validation, test) keeps every
split of every stratum within one image of `ratio * n` at every point, and it is deterministic:
the same existing images and the same upload order give the same splits. A split whose ratio is
0 is never chosen (its deficit is never positive, while the deficits always add up to 1).

Each ingest continues from the counts it reads when it starts. Two uploads running at the same
moment may therefore both favour the same split for a few images; the next upload steers back.
"""

from collections import defaultdict
from collections.abc import Hashable, Mapping
from typing import Generic, TypeVar

from django.db.models import BigIntegerField, Case, Count, F, OuterRef, Subquery, When
from django.db.models.functions import Coalesce

from labeling.models import Annotation, Image, LabelStatus, Project, Split

# The fixed order that breaks ties between splits with the same deficit.
SPLIT_ORDER: tuple[str, ...] = (Split.TRAIN, Split.VALIDATION, Split.TEST)
Stratum = TypeVar("Stratum", bound=Hashable)


class SplitAllocator(Generic[Stratum]):
    """Chooses splits for new images, stratum by stratum, against the given ratios (percent).

    `counts` holds the images already in each split per stratum ({stratum: {split: n}}); a
    stratum is any hashable key (the label class id, or None for "label unknown").
    """

    def __init__(
        self,
        ratios: Mapping[str, int],
        counts: Mapping[Stratum, Mapping[str, int]] | None = None,
    ) -> None:
        if sum(ratios.get(split, 0) for split in SPLIT_ORDER) != 100:
            raise ValueError(f"Split ratios must add up to 100, got {dict(ratios)}.")
        self._ratios = {split: int(ratios.get(split, 0)) for split in SPLIT_ORDER}
        self._counts: dict[Stratum, dict[str, int]] = defaultdict(
            lambda: dict.fromkeys(SPLIT_ORDER, 0)
        )
        for stratum, by_split in (counts or {}).items():
            for split, count in by_split.items():
                self._counts[stratum][split] += count

    def assign(self, stratum: Stratum) -> str:
        """The split for one more image of the stratum; the allocator counts it there."""
        counts = self._counts[stratum]
        total_after = sum(counts.values()) + 1
        # In hundredths of an image, so integer percents stay exact.
        best = max(
            SPLIT_ORDER,
            key=lambda split: (
                self._ratios[split] * total_after - 100 * counts[split],
                -SPLIT_ORDER.index(split),
            ),
        )
        counts[best] += 1
        return best

    def record(self, stratum: Stratum, split: str) -> None:
        """Count an image placed by an explicit choice, so later automatic ones balance it."""
        self._counts[stratum][split] += 1

    def release(self, stratum: Stratum, split: str) -> None:
        """Take back an assignment whose image was not stored after all."""
        self._counts[stratum][split] -= 1

    def counts(self, stratum: Stratum) -> dict[str, int]:
        return dict(self._counts[stratum])


def image_strata_counts(*, project: Project) -> dict[int | None, dict[str, int]]:
    """{stratum: {split: n}} over the project's images, in one query.

    An image's stratum is its consensus label when labeled, else the class its uploader gave it
    at upload (so an upload labeled "coffee" that still awaits more annotations counts as
    coffee, as it did when it was placed), else None.
    """
    uploader_label = Annotation.objects.filter(
        image=OuterRef("pk"), user=OuterRef("uploaded_by")
    ).values("label_class_id")[:1]
    rows = (
        Image.objects.filter(project=project)
        .annotate(
            stratum=Coalesce(
                # Only a settled label counts; a conflict falls back to the uploader's class.
                Case(When(label_status=LabelStatus.LABELED, then=F("label_id"))),
                Subquery(uploader_label),
                output_field=BigIntegerField(),
            )
        )
        .values("stratum", "split")
        .annotate(count=Count("pk"))
        .order_by()
    )
    counts: dict[int | None, dict[str, int]] = defaultdict(dict)
    for row in rows:
        counts[row["stratum"]][row["split"]] = row["count"]
    return dict(counts)


def split_allocator_for(*, project: Project) -> SplitAllocator:
    """An allocator that continues from the project's current images and ratios."""
    return SplitAllocator(project.split_ratios, image_strata_counts(project=project))
