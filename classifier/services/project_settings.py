"""The project's classifier settings: its backbone, the promotion gate's recall margin and the
"unsure" threshold (fields of labeling's Project that only the classifier reads)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from classifier.services.training import backbone_choices
from labeling.models import Project

CLASSIFIER_SETTINGS = ("backbone", "promotion_recall_margin", "unsure_threshold")


@transaction.atomic
def project_classifier_settings_update(
    *,
    project: Project,
    backbone: str,
    promotion_recall_margin: float,
    unsure_threshold: float | None,
) -> Project:
    """Write the three settings. `backbone` "" means the platform's default; the next training
    run embeds with the new one (its embeddings are cached separately; versions already made
    keep theirs). `promotion_recall_margin` and `unsure_threshold` are fractions in [0, 1];
    `unsure_threshold` None means each version's own default. ValidationError, naming the field,
    on a value out of range or an unknown backbone (with the valid ones)."""
    errors = {}
    if backbone and backbone not in backbone_choices():
        errors["backbone"] = (
            f"Unknown backbone {backbone!r}; valid backbones: {', '.join(backbone_choices())}."
        )
    if not 0.0 <= promotion_recall_margin <= 1.0:
        errors["promotion_recall_margin"] = "A fraction between 0 and 1 (0.02 = 2 points)."
    if unsure_threshold is not None and not 0.0 <= unsure_threshold <= 1.0:
        errors["unsure_threshold"] = "A confidence between 0 and 1, or empty."
    if errors:
        raise ValidationError(errors)
    project.backbone = backbone
    project.promotion_recall_margin = promotion_recall_margin
    project.unsure_threshold = unsure_threshold
    project.save(update_fields=list(CLASSIFIER_SETTINGS))
    return project
