"""The predictions' and the embedding cache's admin: rows the workers write, read-only."""

from django.contrib import admin
from django.db.models import QuerySet

from classifier.admin.base import ReadOnlyAdmin, bar_tag, status_tag, thumbnail_tag
from classifier.models import Embedding, Prediction
from classifier.templatetags.classifier_tags import percent
from labeling.models import Project


@admin.register(Prediction)
class PredictionAdmin(ReadOnlyAdmin):
    list_display = [
        "image_thumbnail",
        "image",
        "project",
        "model_version",
        "version_status",
        "label",
        "confidence_bar",
        "agrees",
        "created_at",
    ]
    list_display_links = ["image_thumbnail", "image"]
    list_filter = ["model_version__status", "model_version__project", "label__name"]
    search_fields = ["image__original_name", "image__sha256", "model_version__project__name"]
    list_select_related = ["image__project", "model_version__project", "label"]
    fields = [
        "image_thumbnail",
        ("image", "model_version"),
        ("label", "confidence"),
        "probabilities",
        "created_at",
    ]
    readonly_fields = ["image_thumbnail"]

    @admin.display(description="")
    def image_thumbnail(self, prediction: Prediction) -> str:
        return thumbnail_tag(prediction.image_id, 40)

    @admin.display(description="project", ordering="image__project__name")
    def project(self, prediction: Prediction) -> Project:
        return prediction.image.project

    @admin.display(description="version status")
    def version_status(self, prediction: Prediction) -> str:
        version = prediction.model_version
        return status_tag(version.status, version.get_status_display())

    @admin.display(description="confidence", ordering="confidence")
    def confidence_bar(self, prediction: Prediction) -> str:
        return bar_tag(prediction.confidence, "primary", percent(prediction.confidence))

    @admin.display(description="agrees with label", boolean=True)
    def agrees(self, prediction: Prediction) -> bool | None:
        if prediction.image.label_id is None:
            return None
        return prediction.label_id == prediction.image.label_id


@admin.register(Embedding)
class EmbeddingAdmin(ReadOnlyAdmin):
    list_display = ["sha256", "backbone", "dim", "created_at"]
    list_filter = ["backbone", "created_at"]
    search_fields = ["sha256"]
    fields = ["sha256", "backbone", "dim", "created_at"]

    def get_queryset(self, request) -> QuerySet[Embedding]:
        # The vectors are 5 KB each and never shown.
        return super().get_queryset(request).defer("vector")
