"""Predictions as the image page and the API read them: every version's prediction of an
image, a prediction job's results."""

from django.db.models import (
    BooleanField,
    Case,
    F,
    FloatField,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce

from classifier.models import Prediction, PredictionJob
from classifier.selectors.versions import unsure_threshold_of
from labeling.models import Image, LabelClass, LabelStatus


def unsure_threshold_expression(prefix: str = "") -> Coalesce:
    """SQL for the "unsure" threshold of a prediction row (reached through `prefix`, e.g.
    "predictions__"): the project's own, else its version's default from the calibration
    (classifier.selectors.unsure_threshold_of says the same in Python). NULL: none."""
    return Coalesce(
        F(f"{prefix}model_version__project__unsure_threshold"),
        # KeyTextTransform, not KT(): KT's path does not follow relations (it read the
        # foreign key's column as the JSON).
        Cast(
            KeyTextTransform("unsure_threshold", f"{prefix}model_version__calibration"),
            FloatField(),
        ),
    )


def unsure_expression(prefix: str = "") -> Case:
    """SQL for whether a prediction row is unsure: its confidence below the threshold."""
    return Case(
        When(
            Q(**{f"{prefix}confidence__lt": unsure_threshold_expression(prefix)}),
            then=Value(True),
        ),
        default=Value(False),
        output_field=BooleanField(),
    )


def predictions_with_unsure(predictions: QuerySet[Prediction]) -> QuerySet[Prediction]:
    """The predictions, each with `unsure` (bool) and `unsure_threshold` (None: no threshold)."""
    return predictions.annotate(
        unsure=unsure_expression(), unsure_threshold=unsure_threshold_expression()
    )


def predictions_of_image(*, image: Image | int) -> QuerySet[Prediction]:
    """Every version's prediction of the image, newest version first (the image page), each
    with `unsure` (predictions_with_unsure)."""
    image_id = image if isinstance(image, int) else image.pk
    return predictions_with_unsure(
        Prediction.objects.filter(image_id=image_id)
        .select_related("model_version", "label")
        .order_by("-model_version__version")
    )


def prediction_job_results(*, job: PredictionJob) -> list[dict]:
    """[{"image_id" or "name", "label", "confidence", "unsure", "probabilities"}] of a job.

    Ad-hoc results live in the job row; stored images' results are their Prediction rows
    for the job's version (missing until the job has predicted them). `unsure` against the
    project's threshold as it is now (unsure_threshold_of).
    """
    if job.inputs:
        threshold = unsure_threshold_of(project=job.project, version=job.model_version)
        return [
            {**result, "unsure": threshold is not None and result["confidence"] < threshold}
            for result in job.results
        ]
    rows = predictions_with_unsure(
        Prediction.objects.filter(model_version_id=job.model_version_id, image_id__in=job.image_ids)
        .select_related("label")
        .order_by("image_id")
    )
    return [
        {
            "image_id": row.image_id,
            "label": row.label.name if row.label else None,
            "confidence": row.confidence,
            "unsure": row.unsure,  # type: ignore[attr-defined]
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
