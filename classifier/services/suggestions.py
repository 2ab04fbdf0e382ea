"""Accepting the model's suggestions: one image on the labeling page (Enter), many in the
grid and the API. An accepted suggestion is an ordinary annotation by the person who
accepted it, marked from_suggestion; bulk accepts are one AnnotationBatch each, so they can
be undone (labeling.services.annotation_batch_undo)."""

from dataclasses import dataclass

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet

from classifier.models import ModelVersionStatus
from classifier.selectors.suggestions import (
    image_suggestion,
    images_with_acceptable_suggestion,
    suggested_class_ids,
)
from labeling import services as labeling_services
from labeling.models import Annotation, AnnotationBatch, AnnotationBatchKind, Image, Project


@transaction.atomic
def suggestion_accept(*, image: Image, user: User, label_class_id: int) -> Annotation:
    """Record the user's acceptance of the suggestion shown for the image.

    `label_class_id` is the class the user saw suggested: if the suggestion is no longer
    that one (a new version was activated meanwhile) or the image shows none (its split is
    labeled blind, or no prediction), raises ValidationError rather than record a
    suggestion the user did not see."""
    suggestion = image_suggestion(image=image)
    if suggestion is None:
        raise ValidationError("There is no suggestion to accept for this image.")
    if suggestion["label_class"] != label_class_id:
        raise ValidationError(
            f"The suggestion for this image is now {suggestion['label']}; choose a class."
        )
    label_class = image.project.classes.get(pk=label_class_id)
    return labeling_services.annotation_create(
        image=image.pk, user=user, label_class=label_class, from_suggestion=True
    )


@dataclass(frozen=True)
class SuggestionsAccepted:
    batch: AnnotationBatch
    accepted: int
    skipped: int


@transaction.atomic
def suggestions_accept_bulk(
    *,
    project: Project,
    user: User,
    images: QuerySet[Image],
    min_confidence: float | None = None,
    asked: int | None = None,
) -> SuggestionsAccepted:
    """Accept the suggestions of many images at once, as one action that can be undone.

    Of `images` (any queryset; images of other projects are skipped), those whose suggestion
    the user may accept (classifier.selectors.images_with_acceptable_suggestion: still in
    their queue, on a split that shows suggestions, predicted at least `min_confidence`)
    get the user's annotation of the suggested class, marked from_suggestion. `skipped`
    counts the others: of `asked` when given (the ids a client sent), else of the images
    predicted at or above the threshold.
    """
    acceptable = images_with_acceptable_suggestion(
        project=project, user=user, images=images, min_confidence=min_confidence
    )
    labels = suggested_class_ids(project=project, images=acceptable)
    batch = labeling_services.annotation_batch_apply(
        project=project,
        user=user,
        kind=AnnotationBatchKind.SUGGESTIONS_ACCEPT,
        labels=labels,
        from_suggestion=True,
    )
    if asked is None:
        matched = images.filter(project=project)
        if min_confidence is not None:
            matched = matched.filter(
                predictions__model_version__status=ModelVersionStatus.ACTIVE,
                predictions__confidence__gte=min_confidence,
            )
        asked = matched.count()
    return SuggestionsAccepted(batch=batch, accepted=batch.size, skipped=max(asked - batch.size, 0))
