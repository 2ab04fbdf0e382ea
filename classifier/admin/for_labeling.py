"""The classifier's part of labeling's Project and Image admins: columns, actions, the
Retrain button and the predictions inline.

labeling.admin registers Project and Image once, with these mixed in and named in its
list_display, actions and inlines: a reader of that module sees every column and action,
and nothing here registers or replaces an admin. Every change goes through
classifier.services, as on the site.
"""

from typing import TYPE_CHECKING, TypedDict

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.urls import path, reverse

from classifier import services
from classifier.admin.base import ADMIN_CSS, bar_tag, status_tag
from classifier.ml.hyperparameters import FINE_TUNABLE_BACKBONE, FINE_TUNE_DEFAULT_BLOCKS
from classifier.models import ModelVersion, ModelVersionStatus, Prediction
from classifier.templatetags.classifier_tags import NO_VALUE, percent
from labeling.models import Image, Project
from labeling.permissions import AuthenticatedHttpRequest

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class ActiveVersion(TypedDict):
    """What ProjectModelsAdmin.get_queryset annotates each project with (None: no active
    version)."""

    active_version: int | None
    active_test_accuracy: float | None


class ActivePrediction(TypedDict):
    """What ImagePredictionsAdmin.get_queryset annotates each image with (None: no
    prediction by an active version)."""

    predicted_name: str | None
    predicted_confidence: float | None


# The admin's fine-tuning action trains the top two blocks, classifier.ml's tested default.
FINE_TUNE_BLOCKS = FINE_TUNE_DEFAULT_BLOCKS


def retrain(
    request: AuthenticatedHttpRequest,
    project: Project,
    hyperparameters: dict | None = None,
    backbone: str | None = None,
) -> None:
    """Ask for a retraining of the project and say what happened, with links to the run."""
    try:
        run, created = services.training_run_start(
            project=project,
            requested_by=request.user,
            hyperparameters=hyperparameters,
            backbone=backbone,
        )
    except ValidationError as error:
        messages.error(request, f"{project.name}: {' '.join(error.messages)}")
        return
    message = render_to_string(
        "admin/classifier/_retrain_message.html",
        {"project": project, "run": run, "created": created},
    )
    messages.add_message(request, messages.SUCCESS if created else messages.INFO, message)
    run.refresh_from_db(fields=["dispatch_error"])  # written after commit, when sending failed
    if run.dispatch_error:
        messages.warning(request, f"{project.name}: {run.dispatch_error}")


class ProjectModelsAdmin(admin.ModelAdmin):
    """For labeling's ProjectAdmin: the active model column ("active_model"), the Retrain
    and fine-tuning actions ("retrain_selected", "fine_tune_selected"), the change page's
    Retrain button (templates/admin/labeling/project/change_form.html posts to it) and the
    classifier's settings (`classifier_fields` on the change form, saved by
    `classifier_settings_save` through classifier.services)."""

    classifier_fields = tuple(services.CLASSIFIER_SETTINGS)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "backbone":
            # A choice, not free text: a typo would only fail at the next training run.
            default = settings.CLASSIFIER_BACKBONE
            return forms.ChoiceField(
                choices=[("", f"Platform default ({default})")]
                + [(name, name) for name in services.backbone_choices()],
                required=False,
                label="Backbone",
                help_text=db_field.help_text,
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def classifier_settings_save(self, project: Project, data: dict) -> None:
        services.project_classifier_settings_update(
            project=project,
            backbone=data.get("backbone") or "",
            promotion_recall_margin=data["promotion_recall_margin"],
            unsure_threshold=data.get("unsure_threshold"),
        )

    class Media:
        css = ADMIN_CSS

    def get_queryset(self, request) -> QuerySet[Project]:
        active = ModelVersion.objects.filter(
            project=OuterRef("pk"), status=ModelVersionStatus.ACTIVE
        )
        return (
            super()
            .get_queryset(request)
            .annotate(
                active_version=Subquery(active.values("version")[:1]),
                active_test_accuracy=Subquery(active.values("test_accuracy")[:1]),
            )
        )

    def get_urls(self):
        retrain_url = path(
            "<path:object_id>/retrain/",
            self.admin_site.admin_view(self.retrain_view),
            name="labeling_project_retrain",
        )
        return [retrain_url, *super().get_urls()]

    def retrain_view(self, request: AuthenticatedHttpRequest, object_id: str):
        """The change page's Retrain button (POST)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        project = get_object_or_404(Project, pk=object_id)
        if not self.has_change_permission(request, project):
            raise PermissionDenied
        retrain(request, project)
        return HttpResponseRedirect(reverse("admin:labeling_project_change", args=[project.pk]))

    @admin.action(description="Retrain the selected projects", permissions=["change"])
    def retrain_selected(self, request, queryset):
        for project in queryset.order_by("name"):
            retrain(request, project)

    @admin.action(
        description=f"Retrain the selected projects, fine-tuning the backbone's top "
        f"{FINE_TUNE_BLOCKS} blocks (slower)",
        permissions=["change"],
    )
    def fine_tune_selected(self, request, queryset):
        for project in queryset.order_by("name"):
            # Only Lite0's blocks can be fine-tuned, whatever the project's usual backbone.
            retrain(request, project, {"fine_tune_blocks": FINE_TUNE_BLOCKS}, FINE_TUNABLE_BACKBONE)

    @admin.display(description="active model", ordering="active_test_accuracy")
    def active_model(self, project: "WithAnnotations[Project, ActiveVersion]") -> str:
        if project.active_version is None:
            return NO_VALUE
        return f"v{project.active_version} ({percent(project.active_test_accuracy)} test)"


class PredictionInline(admin.TabularInline):
    """Every model version's prediction of the image, newest version first (read-only)."""

    model = Prediction
    fields = readonly_fields = (
        "model_version",
        "version_status",
        "label",
        "confidence_bar",
        "probabilities_list",
    )
    extra = 0
    can_delete = False
    verbose_name_plural = "predictions (every model version)"

    class Media:
        css = ADMIN_CSS

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("model_version__project", "label")
            .order_by("-model_version__version")
        )

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="status")
    def version_status(self, prediction: Prediction) -> str:
        version = prediction.model_version
        return status_tag(version.status, version.get_status_display())

    @admin.display(description="confidence")
    def confidence_bar(self, prediction: Prediction) -> str:
        return bar_tag(prediction.confidence, "primary", percent(prediction.confidence))

    @admin.display(description="probabilities")
    def probabilities_list(self, prediction: Prediction) -> str:
        # Most probable first (a stored dict's key order depends on the database).
        ranked = sorted(prediction.probabilities.items(), key=lambda item: -item[1])
        return ", ".join(f"{name}: {percent(p)}" for name, p in ranked)


class ImagePredictionsAdmin(admin.ModelAdmin):
    """For labeling's ImageAdmin: the active version's prediction column
    ("active_prediction") and the "predict_selected" action; labeling's ImageAdmin lists
    PredictionInline among its inlines."""

    def get_queryset(self, request) -> QuerySet[Image]:
        active = Prediction.objects.filter(
            image=OuterRef("pk"), model_version__status=ModelVersionStatus.ACTIVE
        )
        return (
            super()
            .get_queryset(request)
            .annotate(
                predicted_name=Subquery(active.values("label__name")[:1]),
                predicted_confidence=Subquery(active.values("confidence")[:1]),
            )
        )

    @admin.display(description="prediction (active model)", ordering="predicted_confidence")
    def active_prediction(self, image: "WithAnnotations[Image, ActivePrediction]") -> str:
        if image.predicted_name is None:
            return NO_VALUE
        return f"{image.predicted_name} {percent(image.predicted_confidence)}"

    @admin.action(
        description="Predict the selected images with their project's active model",
        permissions=["change"],
    )
    def predict_selected(self, request, queryset):
        ids_by_project: dict[int, list[int]] = {}
        for image_id, project_id in queryset.values_list("pk", "project_id"):
            ids_by_project.setdefault(project_id, []).append(image_id)
        for project in Project.objects.filter(pk__in=ids_by_project).order_by("name"):
            try:
                job = services.prediction_job_start(
                    project=project, requested_by=request.user, image_ids=ids_by_project[project.pk]
                )
            except ValidationError as error:
                self.message_user(
                    request, f"{project.name}: {' '.join(error.messages)}", messages.WARNING
                )
                continue
            message = render_to_string(
                "admin/classifier/_predict_message.html", {"project": project, "job": job}
            )
            self.message_user(request, message, messages.SUCCESS)
