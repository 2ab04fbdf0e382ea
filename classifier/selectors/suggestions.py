"""The model's suggestions while labeling: the active version's prediction of an image, shown
to annotators on the splits where the project shows them (Project.suggestion_splits).

A suggestion is {"label": class name, "label_class": class id, "confidence": 0-1}. An image
has none before the active version has predicted it, when its prediction's class has been
deleted, or when its split is labeled blind.
"""

from collections.abc import Iterable

from django.contrib.auth.models import User
from django.db.models import Exists, OuterRef, QuerySet

from classifier.models import ModelVersionStatus, Prediction
from labeling.models import Image, Project
from labeling.selectors import images_needing_label_by


def _active_predictions() -> QuerySet[Prediction]:
    return Prediction.objects.filter(
        model_version__status=ModelVersionStatus.ACTIVE, label__isnull=False
    ).order_by()


def _suggestion(label_name: str, label_class_id: int, confidence: float) -> dict:
    return {"label": label_name, "label_class": label_class_id, "confidence": confidence}


def suggestions_for_images(*, project: Project, images: Iterable[Image]) -> dict[int, dict]:
    """{image id: suggestion} for those of `images` (of `project`, with their split loaded)
    that have one shown to annotators. One query (whatever the splits of the images, so a
    page's query count does not depend on them), none for no images."""
    images = list(images)
    if not images:
        return {}
    rows = (
        _active_predictions()
        .filter(image_id__in=[image.pk for image in images], model_version__project=project)
        .values_list("image_id", "label__name", "label_id", "confidence")
    )
    shown = {image.pk for image in images if project.shows_suggestions(image.split)}
    return {
        image_id: _suggestion(name, class_id, confidence)
        for image_id, name, class_id, confidence in rows
        if image_id in shown
    }


def image_suggestion(*, image: Image) -> dict | None:
    """The suggestion shown for one image (its project loaded with it), or None."""
    return suggestions_for_images(project=image.project, images=[image]).get(image.pk)


def images_with_acceptable_suggestion(
    *,
    project: Project,
    user: User,
    images: QuerySet[Image],
    min_confidence: float | None = None,
) -> QuerySet[Image]:
    """Those of `images` whose suggestion the user may accept in bulk: images of the project
    still in the user's labeling queue (labeling.selectors.images_needing_label_by), on a
    split that shows suggestions, whose active prediction is at least `min_confidence`."""
    shown_splits = [split for split, shown in project.suggestion_splits.items() if shown]
    predictions = _active_predictions().filter(image=OuterRef("pk"), model_version__project=project)
    if min_confidence is not None:
        predictions = predictions.filter(confidence__gte=min_confidence)
    return (
        images_needing_label_by(project=project, user=user)
        .filter(split__in=shown_splits, pk__in=images.values("pk"))
        .filter(Exists(predictions))
    )


def suggested_class_ids(*, project: Project, images: QuerySet[Image]) -> dict[int, int]:
    """{image id: suggested class id} of the images, read off the active version."""
    return dict(
        _active_predictions()
        .filter(model_version__project=project, image__in=images.values("pk"))
        .values_list("image_id", "label_id")
    )
