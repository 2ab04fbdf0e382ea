"""The labeling queue: which images a person should label next, in the order of a sampling
strategy, each with the active version's suggestion and why it is next.

The orderings are computed by the prediction worker (classifier.worker.labeling_queue) and
stored as LabelingQueuePlace rows; a read walks them in rank order and keeps the images this
person may still label and has not skipped (labeling's rule:
labeling.selectors.images_to_label_by). Past the stored places, and for the sequential
strategy, the queue goes on in upload order. So a request reads a handful of rows off indexes
however large the project is.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db.models import F, FilteredRelation, Q, Subquery

from classifier.models import LabelingQueuePlace, ModelVersion, ModelVersionStatus
from labeling.models import Image, Project, QueueStrategy
from labeling.selectors import images_to_label_by

STRATEGIES: tuple[str, ...] = tuple(QueueStrategy.values)

# Places read per round trip while looking for images this person may still label: most are,
# so the first round usually serves; the rounds grow in case someone labeled far ahead of
# the last refresh.
_FIRST_ROUND = 40


@dataclass(frozen=True)
class QueuedImage:
    """An image in the queue: the suggestion is the active version's prediction (None without
    one), the reason a sentence saying why the image is this far up."""

    image: Image
    suggestion: dict | None  # {"label": class name or None, "confidence": 0-1}
    reason: str


def labeling_queue(
    *,
    project: Project,
    user: User,
    strategy: str | None = None,
    exclude_ids: Collection[int] = (),
    limit: int = 5,
) -> list[QueuedImage]:
    """The next `limit` images for the user to label, in the order of `strategy` (default:
    the project's queue_strategy), leaving out the images the user skipped
    (labeling.models.ImageSkip) and `exclude_ids` (already on screen).

    ValueError for an unknown strategy. Three or four queries whatever the project's size: the
    stored places in rank order, which of them the user may label, the upload-order tail when
    the places run out, and the images with the active version's predictions of them.
    """
    strategy = strategy or project.queue_strategy
    if strategy not in STRATEGIES:
        raise ValueError(f"Unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}.")
    needing = images_to_label_by(project=project, user=user)
    excluded = set(exclude_ids)
    chosen: list[int] = []
    places: dict[int, dict] = {}
    if strategy != QueueStrategy.SEQUENTIAL:
        places = _places_open_to(needing, project, strategy, excluded, limit)
        chosen = list(places)
    if len(chosen) < limit:
        chosen += list(
            needing.exclude(pk__in=excluded | set(chosen))
            .order_by("created_at", "pk")
            .values_list("pk", flat=True)[: limit - len(chosen)]
        )
    # The images with the active version's prediction of each, in one query.
    active_version = ModelVersion.objects.filter(
        project=project, status=ModelVersionStatus.ACTIVE
    ).values("pk")[:1]
    images = (
        Image.objects.select_related("label")
        .annotate(
            active_prediction=FilteredRelation(
                "predictions",
                condition=Q(predictions__model_version=Subquery(active_version)),
            ),
            suggested_label=F("active_prediction__label__name"),
            suggested_confidence=F("active_prediction__confidence"),
        )
        .in_bulk(chosen)
    )
    queued = []
    for image_id in chosen:
        image = images.get(image_id)
        if image is None:
            continue
        suggestion = None
        if image.suggested_confidence is not None:
            suggestion = {"label": image.suggested_label, "confidence": image.suggested_confidence}
        queued.append(
            QueuedImage(
                image=image,
                suggestion=suggestion,
                reason=_reason(strategy, places.get(image_id), suggestion),
            )
        )
    return queued


def _places_open_to(needing, project, strategy, excluded, limit) -> dict[int, dict]:
    """{image id: its place's values} of the first `limit` stored places, in rank order,
    whose images the user may label and that are not excluded."""
    stored = LabelingQueuePlace.objects.filter(project=project, strategy=strategy).order_by("rank")
    found: dict[int, dict] = {}
    after, size = -1, _FIRST_ROUND + limit
    while len(found) < limit:
        batch = list(
            stored.filter(rank__gt=after).values("rank", "image_id", "label__name", "confidence")[
                :size
            ]
        )
        if not batch:
            break
        wanted = [row["image_id"] for row in batch if row["image_id"] not in excluded]
        open_ids = set(needing.filter(pk__in=wanted).values_list("pk", flat=True))
        for row in batch:
            if row["image_id"] in open_ids and len(found) < limit:
                found[row["image_id"]] = dict(row)
        after, size = batch[-1]["rank"], size * 4
    return found


def _percent_of(label: str | None, confidence: float | None) -> str:
    return f"{round((confidence or 0) * 100)}% {label or 'a deleted class'}"


def _reason(strategy: str, place: dict | None, suggestion: dict | None) -> str:
    """Why the image is next, in a few words for the labeling page (the issue's example:
    "the model is unsure: 52% coffee")."""
    if strategy == QueueStrategy.SEQUENTIAL:
        return "Next in upload order"
    if place is None:  # the upload-order tail
        if strategy == QueueStrategy.RANDOM:
            return "Next in upload order (the random order is being prepared)"
        if suggestion is None:
            return "No prediction yet: next in upload order"
        return "Next in upload order (after the images the model ranked)"
    if strategy == QueueStrategy.RANDOM:
        return "Picked at random"
    if strategy == QueueStrategy.WARM_START and place["confidence"] is None:
        # Its random picks are stored without the model's columns, as random's are.
        return "Picked at random while the model has seen few labels"
    guess = _percent_of(place["label__name"], place["confidence"])
    reasons: dict[str, str] = {
        QueueStrategy.LEAST_CONFIDENCE: f"The model is unsure: {guess}",
        QueueStrategy.MARGIN: f"A close call for the model: {guess}",
        QueueStrategy.ENTROPY: f"The model is unsure: {guess}",
        QueueStrategy.DIVERSITY: f"Unlike the images labeled so far (the model says {guess})",
        QueueStrategy.BALANCED: f"Keeps the classes balanced: the model says {guess}",
        QueueStrategy.WARM_START: f"The model is unsure: {guess}",
    }
    return reasons[strategy]


def images_to_label_next(
    *,
    project: Project,
    user: User,
    exclude_ids: Collection[int] = (),
    limit: int = 3,
    strategy: str | None = None,
) -> list[Image]:
    """The images of labeling_queue, without suggestions and reasons."""
    return [
        queued.image
        for queued in labeling_queue(
            project=project, user=user, strategy=strategy, exclude_ids=exclude_ids, limit=limit
        )
    ]
