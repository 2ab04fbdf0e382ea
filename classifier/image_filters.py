"""The gallery's and grid's prediction filters and thumbnail badges.

Labeling's image lists know nothing of models: the pages that show predictions (the grid
and gallery, labeling.views.images) combine labeling's filters with these, importing them:
PredictionFilterForm for the fields, images_filtered_by_prediction for the query and
images_with_active_prediction for each thumbnail's badge.

"The prediction" of an image is its project's active version's: at most one per image (one
active version per project, one prediction per image and version), so each filter is an
EXISTS on the (image, version) unique index and filters combine on the same row.
"""

from collections.abc import Mapping

from django import forms
from django.db.models import Exists, OuterRef, QuerySet, Subquery

from classifier.models import ModelVersionStatus, Prediction
from labeling.forms import FilterForm
from labeling.models import Image, LabelClass, LabelStatus

DISAGREE, AGREE = "disagree", "agree"


def _active_predictions() -> QuerySet[Prediction]:
    """The active version's prediction of the outer query's image. Unordered: there is at
    most one, and Prediction's default ordering would join the image table in every
    subquery for nothing."""
    return Prediction.objects.filter(
        image=OuterRef("pk"), model_version__status=ModelVersionStatus.ACTIVE
    ).order_by()


def _filter_predicted(images: QuerySet[Image], value: LabelClass) -> QuerySet[Image]:
    return images.filter(Exists(_active_predictions().filter(label=value)))


def _filter_confidence_min(images: QuerySet[Image], value: float) -> QuerySet[Image]:
    return images.filter(Exists(_active_predictions().filter(confidence__gte=value)))


def _filter_confidence_max(images: QuerySet[Image], value: float) -> QuerySet[Image]:
    return images.filter(Exists(_active_predictions().filter(confidence__lte=value)))


def _filter_disagreement(images: QuerySet[Image], value: str) -> QuerySet[Image]:
    """Labeled images whose prediction differs from (DISAGREE) or matches (AGREE) the label;
    images without a label or without a prediction match neither."""
    same = _active_predictions().filter(label_id=OuterRef("label_id"))
    differs = _active_predictions().exclude(label_id=OuterRef("label_id"))
    labeled = images.filter(label_status=LabelStatus.LABELED)
    return labeled.filter(Exists(differs if value == DISAGREE else same))


_PREDICTION_FILTERS = {
    "predicted": _filter_predicted,
    "confidence_min": _filter_confidence_min,
    "confidence_max": _filter_confidence_max,
    "disagreement": _filter_disagreement,
}


def images_filtered_by_prediction(
    images: QuerySet[Image], *, filters: Mapping[str, object]
) -> QuerySet[Image]:
    """The images whose active version's prediction matches every non-empty filter:
    predicted (a LabelClass), confidence_min and confidence_max (fractions, 0-1),
    disagreement (DISAGREE or AGREE). Other names are ignored, so a page may pass the
    filters of a form that combines labeling's and these."""
    for name, value in filters.items():
        if value not in (None, "", []) and name in _PREDICTION_FILTERS:
            images = _PREDICTION_FILTERS[name](images, value)
    return images


def images_with_active_prediction(images: QuerySet[Image]) -> QuerySet[Image]:
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


class PredictionFilterForm(FilterForm):
    """The prediction filters' fields, named as images_filtered_by_prediction reads them;
    the predicted class offers the project's classes (FilterForm)."""

    predicted = forms.ModelChoiceField(
        queryset=LabelClass.objects.none(),
        required=False,
        empty_label="Any prediction",
        label="Predicted class",
    )
    confidence_min = ConfidencePercentField(
        label="Confidence from (%)",
        widget=forms.NumberInput(attrs={"placeholder": "Conf. ≥ %", "step": 1}),
    )
    confidence_max = ConfidencePercentField(
        label="Confidence up to (%)",
        widget=forms.NumberInput(attrs={"placeholder": "Conf. ≤ %", "step": 1}),
    )
    disagreement = forms.ChoiceField(
        choices=[
            ("", "Prediction vs label"),
            (DISAGREE, "Prediction ≠ label"),
            (AGREE, "Prediction = label"),
        ],
        required=False,
        label="Prediction vs label",
    )


class SuggestionsAcceptForm(forms.Form):
    """The grid's "accept every suggestion at or above N%": on the page's images
    (`image_ids`), or across the grid's current filter (`filter_query`, the grid's query
    string, read by the caller with the grid's filter form)."""

    PAGE, FILTER = "page", "filter"

    min_confidence = forms.IntegerField(min_value=0, max_value=100, label="At or above (%)")
    scope = forms.ChoiceField(choices=[(PAGE, "This page"), (FILTER, "The current filter")])
    image_ids = forms.CharField(required=False)
    filter_query = forms.CharField(required=False)

    def clean_image_ids(self) -> list[int]:
        raw = self.cleaned_data.get("image_ids") or ""
        parts = [part.strip() for part in raw.split(",") if part.strip()]
        if not all(part.isdigit() for part in parts):
            raise forms.ValidationError("Bad image id.")
        return [int(part) for part in parts]

    @property
    def min_confidence_fraction(self) -> float:
        return self.cleaned_data["min_confidence"] / 100
