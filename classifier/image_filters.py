"""The gallery's and grid's prediction filters and thumbnail badges.

Labeling offers extension points so that it never imports the classifier:
labeling.selectors.IMAGE_FILTERS (name -> filter function), IMAGE_LIST_ANNOTATIONS (what
each listed image carries) and labeling.forms.ImageFilterForm (a form field per filter).
`register()` adds the classifier's to them; ClassifierConfig.ready() calls it.

"The prediction" of an image is its project's active version's: at most one per image (one
active version per project, one prediction per image and version), so each filter is an
EXISTS on the (image, version) unique index and filters combine on the same row.
"""

from django import forms
from django.db.models import Exists, OuterRef, QuerySet, Subquery

from classifier.models import ModelVersionStatus, Prediction
from labeling.models import Image, LabelClass, LabelStatus


def _active_predictions() -> QuerySet[Prediction]:
    """The active version's prediction of the outer query's image. Unordered: there is at
    most one, and Prediction's default ordering would join the image table in every
    subquery for nothing."""
    return Prediction.objects.filter(
        image=OuterRef("pk"), model_version__status=ModelVersionStatus.ACTIVE
    ).order_by()


def filter_predicted(images: QuerySet[Image], value: LabelClass, user) -> QuerySet[Image]:
    return images.filter(Exists(_active_predictions().filter(label=value)))


def filter_confidence_min(images: QuerySet[Image], value: float, user) -> QuerySet[Image]:
    return images.filter(Exists(_active_predictions().filter(confidence__gte=value)))


def filter_confidence_max(images: QuerySet[Image], value: float, user) -> QuerySet[Image]:
    return images.filter(Exists(_active_predictions().filter(confidence__lte=value)))


DISAGREE, AGREE = "disagree", "agree"


def filter_disagreement(images: QuerySet[Image], value: str, user) -> QuerySet[Image]:
    """Labeled images whose prediction differs from (DISAGREE) or matches (AGREE) the label;
    images without a label or without a prediction match neither."""
    same = _active_predictions().filter(label_id=OuterRef("label_id"))
    differs = _active_predictions().exclude(label_id=OuterRef("label_id"))
    labeled = images.filter(label_status=LabelStatus.LABELED)
    return labeled.filter(Exists(differs if value == DISAGREE else same))


def annotate_active_prediction(images: QuerySet[Image]) -> QuerySet[Image]:
    """Each image with `predicted_name`, `predicted_color` and `predicted_confidence` (None
    before the active version has predicted it), for the badge on its thumbnail. Subqueries
    in the same SELECT: no query per image."""
    active = _active_predictions()
    return images.annotate(
        predicted_name=Subquery(active.values("label__name")[:1]),
        predicted_color=Subquery(active.values("label__color")[:1]),
        predicted_confidence=Subquery(active.values("confidence")[:1]),
    )


class ConfidencePercentField(forms.IntegerField):
    """A confidence typed in percent (0-100); its cleaned value is a fraction (0-1), as
    Prediction.confidence stores it."""

    def __init__(self, **kwargs):
        super().__init__(min_value=0, max_value=100, required=False, **kwargs)

    def clean(self, value):
        percent = super().clean(value)
        return None if percent is None else percent / 100


def form_fields() -> dict[str, forms.Field]:
    """The filter form's fields, in the order they are shown (after labeling's own).
    The class field's queryset is set to the project's classes by ImageFilterForm."""
    return {
        "predicted": forms.ModelChoiceField(
            queryset=LabelClass.objects.none(),
            required=False,
            empty_label="Any prediction",
            label="Predicted class",
        ),
        "confidence_min": ConfidencePercentField(
            label="Confidence from (%)",
            widget=forms.NumberInput(attrs={"placeholder": "Conf. ≥ %", "step": 1}),
        ),
        "confidence_max": ConfidencePercentField(
            label="Confidence up to (%)",
            widget=forms.NumberInput(attrs={"placeholder": "Conf. ≤ %", "step": 1}),
        ),
        "disagreement": forms.ChoiceField(
            choices=[
                ("", "Prediction vs label"),
                (DISAGREE, "Prediction ≠ label"),
                (AGREE, "Prediction = label"),
            ],
            required=False,
            label="Prediction vs label",
        ),
    }


def register() -> None:
    """Add the prediction filters, their form fields and the thumbnail badge's data to
    labeling's extension points. Idempotent."""
    from labeling import selectors
    from labeling.forms import ImageFilterForm

    selectors.IMAGE_FILTERS.update(
        {
            "predicted": filter_predicted,
            "confidence_min": filter_confidence_min,
            "confidence_max": filter_confidence_max,
            "disagreement": filter_disagreement,
        }
    )
    if annotate_active_prediction not in selectors.IMAGE_LIST_ANNOTATIONS:
        selectors.IMAGE_LIST_ANNOTATIONS.append(annotate_active_prediction)
    ImageFilterForm.base_fields.update(form_fields())
