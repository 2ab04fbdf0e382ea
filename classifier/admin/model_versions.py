"""The model versions' admin: metrics at a glance, per-class and confusion tables
(templates/admin/classifier/modelversion/), activation (also the rollback) and a Retrain
button on the list."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.urls import path, reverse

from classifier import selectors, services
from classifier.admin.base import ReadOnlyAdmin, status_tag
from classifier.admin.for_labeling import retrain
from classifier.models import ModelVersion, ModelVersionStatus
from classifier.templatetags.classifier_tags import NO_VALUE, percent
from labeling.models import Project
from labeling.permissions import AuthenticatedHttpRequest
from labelplatform.admin_delete_summary import CountedDeleteSummary


@admin.register(ModelVersion)
class ModelVersionAdmin(CountedDeleteSummary, ReadOnlyAdmin):
    list_display = [
        "__str__",
        "project",
        "version",
        "status_display",
        "test_accuracy_display",
        "validation_accuracy_display",
        "per_class_f1",
        "backbone",
        "training_images",
        "created_at",
        "activated_at",
        "training_run_link",
    ]
    list_display_links = ["__str__"]
    list_filter = ["status", "backbone", "project", "created_at"]
    search_fields = ["project__name", "status_reason", "training_set_fingerprint"]
    list_select_related = ["project", "training_run"]
    date_hierarchy = "created_at"
    actions = ["activate_selected"]
    fields = [
        ("project", "version", "backbone"),
        ("status", "status_reason", "pinned"),
        ("promotion_decision", "promotion_reason"),
        ("test_accuracy", "validation_accuracy"),
        "calibration_summary",
        "per_class_table",
        "confusion_matrix_table",
        "history_summary",
        "counts",
        "hyperparameters",
        "training_set_fingerprint",
        "artifact",
        "training_run_link",
        ("created_at", "activated_at", "activated_by"),
        "class_ids",
    ]
    readonly_fields = [
        "calibration_summary",
        "per_class_table",
        "confusion_matrix_table",
        "history_summary",
        "training_run_link",
    ]

    @admin.display(description="Calibration (test split)")
    def calibration_summary(self, version: ModelVersion) -> str:
        calibration = version.calibration or {}
        if "temperature" not in calibration:
            return "Not calibrated (made before calibration)."
        threshold = calibration.get("unsure_threshold")
        return (
            f"temperature {calibration['temperature']:.3f}; ECE (15 bins) "
            f"{calibration['ece_before']:.4f} before, {calibration['ece_after']:.4f} after; "
            f"default unsure threshold {percent(threshold) if threshold is not None else NO_VALUE}"
        )

    def view_on_site(self, version: ModelVersion) -> str:
        return (
            reverse("classifier:project-models", args=[version.project_id])
            + f"?version={version.version}"
        )

    def get_urls(self):
        retrain_url = path(
            "retrain/",
            self.admin_site.admin_view(self.retrain_view),
            name="classifier_modelversion_retrain",
        )
        return [retrain_url, *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        # The list's Retrain button picks a project, the one filtered on if any.
        extra_context = {
            **(extra_context or {}),
            "retrain_projects": Project.objects.order_by("name").only("pk", "name"),
            "retrain_selected": request.GET.get("project__id__exact", ""),
        }
        return super().changelist_view(request, extra_context)

    def retrain_view(self, request: AuthenticatedHttpRequest):
        """The changelist's Retrain button (POST, with the project chosen beside it)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_retrain_permission(request):
            raise PermissionDenied
        project = get_object_or_404(Project, pk=request.POST.get("project") or 0)
        retrain(request, project)
        changelist = reverse("admin:classifier_modelversion_changelist")
        return HttpResponseRedirect(f"{changelist}?project__id__exact={project.pk}")

    def has_delete_permission(self, request, obj=None) -> bool:
        # The active version serves the project's predictions (pages, labeling queue, new
        # uploads): deleting it would leave them pointing nowhere. Activate another version
        # first (the Activate action, also the rollback); then this one can go. (The delete
        # action asks this for each selected row and refuses if the active one is among them.)
        if obj is not None and obj.status == ModelVersionStatus.ACTIVE:
            return False
        return super().has_delete_permission(request, obj)

    def delete_view(self, request, object_id, extra_context=None):
        version = self.get_object(request, object_id)
        if version is not None and version.status == ModelVersionStatus.ACTIVE:
            self.message_user(
                request,
                f"{version} is its project's active version and cannot be deleted: activate "
                "another version first (select it and use the Activate action).",
                messages.ERROR,
            )
            return HttpResponseRedirect(
                reverse("admin:classifier_modelversion_change", args=[version.pk])
            )
        return super().delete_view(request, object_id, extra_context)

    def has_retrain_permission(self, request) -> bool:
        return request.user.has_perm("labeling.change_project")

    def has_activate_permission(self, request) -> bool:
        return request.user.has_perm("classifier.change_modelversion")

    @admin.action(
        description="Activate the selected version (one per project; also the rollback)",
        permissions=["activate"],
    )
    def activate_selected(self, request, queryset):
        versions = list(queryset.select_related("project").order_by("project__name", "version"))
        by_project: dict[int, list[ModelVersion]] = {}
        for version in versions:
            by_project.setdefault(version.project_id, []).append(version)
        for chosen in by_project.values():
            if len(chosen) > 1:
                self.message_user(
                    request,
                    f"{chosen[0].project.name}: select one version to activate, not "
                    f"{len(chosen)} ({', '.join(f'v{v.version}' for v in chosen)}).",
                    messages.ERROR,
                )
                continue
            status_before = chosen[0].status
            version = services.model_version_activate(
                model_version=chosen[0], activated_by=request.user
            )
            summary = selectors.model_version_activation_message(
                model_version=version, status_before=status_before
            )
            self.message_user(request, f"{version.project.name}: {summary}", messages.SUCCESS)

    @admin.display(description="status", ordering="status")
    def status_display(self, version: ModelVersion) -> str:
        return status_tag(version.status, version.get_status_display())

    @admin.display(description="test acc.", ordering="test_accuracy")
    def test_accuracy_display(self, version: ModelVersion) -> str:
        return percent(version.test_accuracy)

    @admin.display(description="val. acc.", ordering="validation_accuracy")
    def validation_accuracy_display(self, version: ModelVersion) -> str:
        return percent(version.validation_accuracy)

    @admin.display(description="F1 per class")
    def per_class_f1(self, version: ModelVersion) -> str:
        return (
            ", ".join(
                f"{name} {scores['f1']:.2f}"
                for name, scores in selectors.metrics_per_class(version.metrics)
            )
            or NO_VALUE
        )

    @admin.display(description="images (train/val/test)")
    def training_images(self, version: ModelVersion) -> str:
        counts = version.counts or {}
        return " / ".join(
            str(sum((counts.get(split) or {}).values()))
            for split in ("train", "validation", "test")
        )

    @admin.display(description="training run")
    def training_run_link(self, version: ModelVersion) -> str:
        if version.training_run_id is None:
            return NO_VALUE
        return render_to_string(
            "admin/classifier/_change_link.html",
            {"url_name": "admin:classifier_trainingrun_change", "pk": version.training_run_id},
        )

    @admin.display(description="per class (test split)")
    def per_class_table(self, version: ModelVersion) -> str:
        per_class = selectors.metrics_per_class(version.metrics)
        if not per_class:
            return NO_VALUE
        return render_to_string(
            "admin/classifier/modelversion/_per_class.html", {"per_class": per_class}
        )

    @admin.display(description="confusion matrix (rows: true, columns: predicted)")
    def confusion_matrix_table(self, version: ModelVersion) -> str:
        metrics = version.metrics or {}
        matrix, names = metrics.get("confusion_matrix") or [], metrics.get("class_names") or []
        if not matrix or len(names) != len(matrix):
            return NO_VALUE
        return render_to_string(
            "admin/classifier/modelversion/_confusion_matrix.html",
            {"names": names, "rows": zip(names, matrix, strict=True)},
        )

    @admin.display(description="training history")
    def history_summary(self, version: ModelVersion) -> str:
        metrics = version.metrics or {}
        history = metrics.get("history") or {}
        epochs = len(history.get("loss") or [])
        if not epochs:
            return NO_VALUE
        best = metrics.get("best_epoch") or epochs  # 1-based
        at_best = {key: values[best - 1] for key, values in history.items() if len(values) >= best}
        return (
            f"{epochs} epochs; kept epoch {best}: loss {at_best.get('loss', 0):.4f} / val. loss "
            f"{at_best.get('val_loss', 0):.4f}, accuracy {percent(at_best.get('accuracy'))} / "
            f"val. accuracy {percent(at_best.get('val_accuracy'))}"
        )
