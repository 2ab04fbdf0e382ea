"""Predictions as the image page and the API read them: every version's prediction of an
image, a prediction job's results."""

from django.db.models import QuerySet

from classifier.models import Prediction, PredictionJob
from labeling.models import Image, LabelClass, LabelStatus


def predictions_of_image(*, image: Image | int) -> QuerySet[Prediction]:
    """Every version's prediction of the image, newest version first (the image page)."""
    image_id = image if isinstance(image, int) else image.pk
    return (
        Prediction.objects.filter(image_id=image_id)
        .select_related("model_version", "label")
        .order_by("-model_version__version")
    )


def prediction_job_results(*, job: PredictionJob) -> list[dict]:
    """[{"image_id" or "name", "label", "confidence", "probabilities"}] of a job.

    Ad-hoc results live in the job row; stored images' results are their Prediction rows
    for the job's version (missing until the job has predicted them).
    """
    if job.inputs:
        return list(job.results)
    rows = (
        Prediction.objects.filter(model_version_id=job.model_version_id, image_id__in=job.image_ids)
        .select_related("label")
        .order_by("image_id")
    )
    return [
        {
            "image_id": row.image_id,
            "label": row.label.name if row.label else None,
            "confidence": row.confidence,
            "probabilities": row.probabilities,
        }
        for row in rows
    ]


def image_predictions_shown(*, image: Image, classes: list[LabelClass]) -> list[dict]:
    """The image page's predictions, newest version first: [{"prediction", "bars":
    [{"name", "color", "probability"}] in the project's class order, "agrees" (True/False
    against the image's label, None while it has none)}]. One query."""
    order = {label_class.name: index for index, label_class in enumerate(classes)}
    color_of = {label_class.name: label_class.color for label_class in classes}
    shown = []
    for prediction in predictions_of_image(image=image):
        names = sorted(prediction.probabilities, key=lambda name: (order.get(name, 99), name))
        shown.append(
            {
                "prediction": prediction,
                "bars": [
                    {
                        "name": name,
                        "color": color_of.get(name, "#6c757d"),
                        "probability": prediction.probabilities[name],
                    }
                    for name in names
                ],
                "agrees": None
                if image.label_status != LabelStatus.LABELED or image.label_id is None
                else prediction.label_id == image.label_id,
            }
        )
    return shown
