"""The gallery's and grid's prediction filters and thumbnail badges.

Labeling's image lists know nothing of models: the pages that show predictions (the grid
and gallery, labeling.views.images) combine labeling's filters with these, importing them:
PredictionFilterForm for the fields, images_filtered_by_prediction for the query and
images_with_active_prediction for each thumbnail's badge.

"The prediction" of an image is its project's active version's: at most one per image (one
active version per project, one prediction per image and version), so each filter is an
EXISTS on the (image, version) unique index and filters combine on the same row.
"""

from collections.abc import Callable, Mapping
from typing import Any

from django import forms
from django.db.models import Exists, F, OuterRef, QuerySet, Subquery

from classifier.models import DataIssue, DataIssueKind, ModelVersionStatus, Prediction
from classifier.selectors.predictions import unsure_expression, unsure_threshold_expression
from labeling.forms import FilterForm
from labeling.models import Image, LabelClass, LabelStatus

DISAGREE, AGREE = "disagree", "agree"
UNSURE, SURE = "unsure", "sure"


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


def _filter_certainty(images: QuerySet[Image], value: str) -> QuerySet[Image]:
    """Images whose prediction is below the project's unsure threshold (UNSURE) or not (SURE;
    also when the project has no threshold)."""
    below = _active_predictions().filter(confidence__lt=unsure_threshold_expression())
    if value == UNSURE:
        return images.filter(Exists(below))
    return images.filter(Exists(_active_predictions())).exclude(Exists(below))


def _filter_compared_with(images: QuerySet[Image], value: int) -> QuerySet[Image]:
    """Images that the active version and version `value` (an id) classify differently, both
    having predicted them: what would change if that version were activated."""
    other = Prediction.objects.filter(image=OuterRef("pk"), model_version_id=value).order_by()
    return (
        images.annotate(
            _active_label=Subquery(_active_predictions().values("label_id")[:1]),
            _other_label=Subquery(other.values("label_id")[:1]),
        )
        .filter(_active_label__isnull=False, _other_label__isnull=False)
        .exclude(_active_label=F("_other_label"))
    )


def _filter_issue(images: QuerySet[Image], value: str) -> QuerySet[Image]:
    """Images some current finding of the data-health check of kind `value` names (the
    health page's numbers link here). The ids are read first: a finding holds them as a
    list (a group's images), and a project's findings are a few hundred rows at most."""
    ids: set[int] = set()
    for image_ids in DataIssue.objects.filter(
        kind=value, project__in=images.values("project_id")
    ).values_list("image_ids", flat=True):
        ids.update(image_ids)
    return images.filter(pk__in=ids)


# name -> function(images, value). Each filter's value is the type it names: the cleaned value
# of PredictionFilterForm's field of that name, which no static type connects to the name.
_PREDICTION_FILTERS: dict[str, Callable[[QuerySet[Image], Any], QuerySet[Image]]] = {
    "predicted": _filter_predicted,
    "confidence_min": _filter_confidence_min,
    "confidence_max": _filter_confidence_max,
    "disagreement": _filter_disagreement,
    "certainty": _filter_certainty,
    "compared_with": _filter_compared_with,
    "issue": _filter_issue,
}


def images_filtered_by_prediction(
    images: QuerySet[Image], *, filters: Mapping[str, object]
) -> QuerySet[Image]:
    """The images whose active version's prediction matches every non-empty filter:
    predicted (a LabelClass), confidence_min and confidence_max (fractions, 0-1),
    disagreement (DISAGREE or AGREE), certainty (UNSURE or SURE against the project's
    threshold), compared_with (a version id: predicted differently by it), issue (a data-health
    finding's kind). Other names are
    ignored, so a page may pass the filters of a form that combines labeling's and these."""
    for name, value in filters.items():
        if value not in (None, "", []) and name in _PREDICTION_FILTERS:
            images = _PREDICTION_FILTERS[name](images, value)
    return images


def images_with_active_prediction(images: QuerySet[Image]) -> QuerySet[Image]:
    """Each image with `predicted_name`, `predicted_color`, `predicted_confidence` and
    `predicted_unsure` (None before the active version has predicted it), for the badge on
    its thumbnail. Subqueries in the same SELECT: no query per image."""
    active = _active_predictions()
    return images.annotate(
        predicted_name=Subquery(active.values("label__name")[:1]),
        predicted_color=Subquery(active.values("label__color")[:1]),
        predicted_confidence=Subquery(active.values("confidence")[:1]),
        predicted_unsure=Subquery(
            active.annotate(is_unsure=unsure_expression()).values("is_unsure")[:1]
        ),
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
    certainty = forms.ChoiceField(
        choices=[
            ("", "Sure or unsure"),
            (UNSURE, "Unsure predictions"),
            (SURE, "Sure predictions"),
        ],
        required=False,
        label="Certainty",
    )
    # Set by the Models page's "classified differently" link; no visible field of its own.
    compared_with = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=2**63 - 1,
        # A class of its own: FilterForm appends a size class to every widget's.
        widget=forms.HiddenInput(attrs={"class": ""}),
    )
    issue = forms.ChoiceField(
        choices=[("", "Any data health"), *DataIssueKind.choices],
        required=False,
        label="Data health",
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
