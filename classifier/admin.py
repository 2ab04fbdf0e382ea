"""The Django admin for the classifier: model versions, training runs, prediction jobs,
predictions and the embedding cache, and the classifier's additions to labeling's project
and image admin (a Retrain button and action, Predict selected, predictions inline).

Rows here are records of what the workers did, so they are read-only; every change goes
through classifier.services (training_run_start, model_version_activate, prediction_job_start,
training_run_cancel) from a button or an action, as on the site. labeling.admin registers
Project and Image first (INSTALLED_APPS lists labeling before classifier); this module
re-registers them with subclasses.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from classifier import selectors, services
from classifier.ml.hyperparameters import FINE_TUNE_DEFAULT_BLOCKS
from classifier.models import (
    UNFINISHED_STATUSES,
    Embedding,
    JobStatus,
    ModelVersion,
    ModelVersionStatus,
    Prediction,
    PredictionJob,
    TrainingRun,
)
from classifier.templatetags.classifier_tags import (
    NO_VALUE,
    duration,
    elapsed,
    percent,
    waited,
)
from labeling.admin import ImageAdmin as LabelingImageAdmin
from labeling.admin import ProjectAdmin as LabelingProjectAdmin
from labeling.admin import thumbnail_tag
from labeling.models import Image, Project

_STATUS_COLORS = {
    JobStatus.QUEUED: "#6c757d",
    JobStatus.RUNNING: "#0d6efd",
    JobStatus.SUCCEEDED: "#198754",
    JobStatus.FAILED: "#dc3545",
    JobStatus.CANCELLED: "#b58105",
    ModelVersionStatus.ACTIVE: "#198754",
    ModelVersionStatus.CANDIDATE: "#0aa2c0",
    ModelVersionStatus.RETIRED: "#6c757d",
}


def status_tag(status: str, label: str) -> str:
    return format_html(
        '<span style="display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;'
        'background:{};font-size:.85em;white-space:nowrap">{}</span>',
        _STATUS_COLORS.get(status, "#6c757d"),
        label,
    )


def bar_tag(fraction: float, color: str, text: str) -> str:
    """A small horizontal bar (progress, confidence) with its figure beside it."""
    width = max(0, min(100, round(fraction * 100)))
    return format_html(
        '<span style="display:inline-flex;align-items:center;gap:6px;white-space:nowrap">'
        '<span style="display:inline-block;width:90px;height:8px;border-radius:4px;'
        'background:var(--hairline-color,#e5e5e5);overflow:hidden">'
        '<span style="display:block;height:100%;width:{}%;background:{}"></span></span>'
        "{}</span>",
        width,
        color,
        text,
    )


def job_progress_tag(job) -> str:
    return bar_tag(
        job.progress / 100, _STATUS_COLORS.get(job.status, "#6c757d"), f"{job.progress}%"
    )


def retrain(request: HttpRequest, project: Project, hyperparameters: dict | None = None) -> None:
    """Ask for a retraining of the project and say what happened, with links to the run."""
    try:
        run, created = services.training_run_start(
            project=project, requested_by=request.user, hyperparameters=hyperparameters
        )
    except ValidationError as error:
        messages.error(request, f"{project.name}: {' '.join(error.messages)}")
        return
    run_url = reverse("admin:classifier_trainingrun_change", args=[run.pk])
    jobs_url = reverse("project-jobs", args=[project.pk])
    if created:
        text = "{}: retraining queued as training run #{}. Watch it on the {}."
        level = messages.SUCCESS
    else:
        text = "{}: a retraining is already under way, training run #{}. Watch it on the {}."
        level = messages.INFO
    messages.add_message(
        request,
        level,
        format_html(
            text,
            project.name,
            format_html('<a href="{}">{}</a>', run_url, run.pk),
            format_html('<a href="{}">Jobs page</a>', jobs_url),
        ),
    )
    run.refresh_from_db(fields=["dispatch_error"])  # written after commit, when sending failed
    if run.dispatch_error:
        messages.warning(request, f"{project.name}: {run.dispatch_error}")


# --- Projects and images: labeling's admin, with the classifier's buttons and columns -------

# The admin's fine-tuning action trains the top two blocks, classifier.ml's tested default.
FINE_TUNE_BLOCKS = FINE_TUNE_DEFAULT_BLOCKS


admin.site.unregister(Project)


@admin.register(Project)
class ProjectAdmin(LabelingProjectAdmin):
    """Labeling's project admin plus the active model, a Retrain button on the change page
    and a Retrain action on the list."""

    change_form_template = "admin/classifier/project_change_form.html"
    list_display = [*LabelingProjectAdmin.list_display, "active_model"]
    actions = [*(LabelingProjectAdmin.actions or []), "retrain_selected", "fine_tune_selected"]

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

    def retrain_view(self, request: HttpRequest, object_id: str):
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
            retrain(request, project, {"fine_tune_blocks": FINE_TUNE_BLOCKS})

    @admin.display(description="active model", ordering="active_test_accuracy")
    def active_model(self, project: Project) -> str:
        if project.active_version is None:
            return NO_VALUE
        return f"v{project.active_version} ({percent(project.active_test_accuracy)} test)"


class PredictionInline(admin.TabularInline):
    model = Prediction
    fields = ["model_version", "version_status", "label", "confidence_bar", "probabilities_list"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "predictions (every model version)"

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
        return bar_tag(prediction.confidence, "#0d6efd", percent(prediction.confidence))

    @admin.display(description="probabilities")
    def probabilities_list(self, prediction: Prediction) -> str:
        # Most probable first (a stored dict's key order depends on the database).
        ranked = sorted(prediction.probabilities.items(), key=lambda item: -item[1])
        return format_html_join(", ", "{}: {}", ((name, percent(p)) for name, p in ranked))


admin.site.unregister(Image)


@admin.register(Image)
class ImageAdmin(LabelingImageAdmin):
    """Labeling's image admin plus the active version's prediction, every version's
    predictions inline, and a Predict selected action."""

    list_display = [*LabelingImageAdmin.list_display, "active_prediction"]
    inlines = [*LabelingImageAdmin.inlines, PredictionInline]
    actions = [*LabelingImageAdmin.actions, "predict_selected"]

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
    def active_prediction(self, image: Image) -> str:
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
            self.message_user(
                request,
                format_html(
                    "{}: predicting {} image(s) with v{}, prediction job {}.",
                    project.name,
                    job.total,
                    job.model_version.version,
                    format_html(
                        '<a href="{}">#{}</a>',
                        reverse("admin:classifier_predictionjob_change", args=[job.pk]),
                        job.pk,
                    ),
                ),
                messages.SUCCESS,
            )


# --- The classifier's own rows --------------------------------------------------------------


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by the services and the workers: shown, never edited here."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyAdmin):
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
        ("status", "status_reason"),
        ("test_accuracy", "validation_accuracy"),
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
        "per_class_table",
        "confusion_matrix_table",
        "history_summary",
        "training_run_link",
    ]

    def view_on_site(self, version: ModelVersion) -> str:
        return reverse("project-models", args=[version.project_id]) + f"?version={version.version}"

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

    def retrain_view(self, request: HttpRequest):
        """The changelist's Retrain button (POST, with the project chosen beside it)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_retrain_permission(request):
            raise PermissionDenied
        project = get_object_or_404(Project, pk=request.POST.get("project") or 0)
        retrain(request, project)
        changelist = reverse("admin:classifier_modelversion_changelist")
        return HttpResponseRedirect(f"{changelist}?project__id__exact={project.pk}")

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
            version = services.model_version_activate(
                model_version=chosen[0], activated_by=request.user
            )
            self.message_user(
                request,
                f"{version.project.name}: v{version.version} is active; its predictions of "
                "the project's images are being made in the background.",
                messages.SUCCESS,
            )

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
        return format_html(
            '<a href="{}">#{}</a>',
            reverse("admin:classifier_trainingrun_change", args=[version.training_run_id]),
            version.training_run_id,
        )

    @admin.display(description="per class (test split)")
    def per_class_table(self, version: ModelVersion) -> str:
        per_class = selectors.metrics_per_class(version.metrics)
        if not per_class:
            return NO_VALUE
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    name,
                    percent(scores.get("precision")),
                    percent(scores.get("recall")),
                    percent(scores.get("f1")),
                    scores.get("support", NO_VALUE),
                )
                for name, scores in per_class
            ),
        )
        return format_html(
            "<table><thead><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th>"
            "<th>images</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    @admin.display(description="confusion matrix (rows: true, columns: predicted)")
    def confusion_matrix_table(self, version: ModelVersion) -> str:
        metrics = version.metrics or {}
        matrix, names = metrics.get("confusion_matrix") or [], metrics.get("class_names") or []
        if not matrix or len(names) != len(matrix):
            return NO_VALUE
        head = format_html_join("", "<th>{}</th>", ((name,) for name in names))
        body = format_html_join(
            "",
            "<tr><th>{}</th>{}</tr>",
            (
                (name, format_html_join("", "<td>{}</td>", ((count,) for count in row)))
                for name, row in zip(names, matrix, strict=True)
            ),
        )
        return format_html("<table><tr><th></th>{}</tr>{}</table>", head, body)

    @admin.display(description="training history")
    def history_summary(self, version: ModelVersion) -> str:
        metrics = version.metrics or {}
        history = metrics.get("history") or {}
        epochs = len(history.get("loss") or [])
        if not epochs:
            return NO_VALUE
        best = metrics.get("best_epoch") or epochs  # 1-based
        at_best = {key: values[best - 1] for key, values in history.items() if len(values) >= best}
        return format_html(
            "{} epochs; kept epoch {}: loss {} / val. loss {}, accuracy {} / val. accuracy {}",
            epochs,
            best,
            f"{at_best.get('loss', 0):.4f}",
            f"{at_best.get('val_loss', 0):.4f}",
            percent(at_best.get("accuracy")),
            percent(at_best.get("val_accuracy")),
        )


class JobAdmin(ReadOnlyAdmin):
    """What the two kinds of job rows share in the admin."""

    list_select_related = ["project", "requested_by"]
    date_hierarchy = "created_at"
    search_fields = ["project__name", "error", "worker", "celery_task_id"]

    def has_delete_permission(self, request, obj=None) -> bool:
        # A queued or running job is still someone's work in progress: cancel it first. (The
        # delete action asks this for each selected row and refuses if any is unfinished.)
        if obj is not None and not obj.is_finished:
            return False
        return super().has_delete_permission(request, obj)

    @admin.display(description="status", ordering="status")
    def status_display(self, job) -> str:
        return status_tag(job.status, job.get_status_display())

    @admin.display(description="progress", ordering="progress")
    def progress_bar(self, job) -> str:
        return job_progress_tag(job)

    @admin.display(description="waited")
    def waited_display(self, job) -> str:
        return duration(waited(job))

    @admin.display(description="took")
    def duration_display(self, job) -> str:
        return duration(elapsed(job))

    @admin.display(description="error")
    def error_short(self, job) -> str:
        text = job.error or (job.dispatch_error if job.status == JobStatus.QUEUED else "")
        return (text[:120] + "…") if len(text) > 120 else (text or NO_VALUE)


@admin.register(TrainingRun)
class TrainingRunAdmin(JobAdmin):
    list_display = [
        "__str__",
        "project",
        "status_display",
        "progress_bar",
        "phase",
        "epoch",
        "requested_by",
        "created_at",
        "waited_display",
        "duration_display",
        "model_version_link",
        "error_short",
    ]
    list_filter = ["status", "phase", "project", "created_at"]
    list_select_related = ["project", "requested_by", "model_version"]
    actions = ["cancel_selected"]
    fields = [
        ("project", "status", "progress_bar", "phase", "epoch"),
        "model_version_link",
        "hyperparameters",
        "error",
        ("requested_by", "created_at", "started_at", "finished_at"),
        ("waited_display", "duration_display"),
        ("worker", "heartbeat_at", "celery_task_id"),
        ("enqueued_at", "dispatch_attempts", "dispatch_error"),
    ]
    readonly_fields = ["progress_bar", "model_version_link", "waited_display", "duration_display"]

    def view_on_site(self, run: TrainingRun) -> str:
        return reverse("project-jobs", args=[run.project_id])

    def has_cancel_permission(self, request) -> bool:
        return request.user.has_perm("classifier.change_trainingrun")

    @admin.action(
        description="Cancel the selected runs (queued or running)", permissions=["cancel"]
    )
    def cancel_selected(self, request, queryset):
        cancelled = 0
        for run in queryset.filter(status__in=UNFINISHED_STATUSES):
            cancelled += services.training_run_cancel(run=run).status == JobStatus.CANCELLED
        self.message_user(request, f"Cancelled {cancelled} training run(s).", messages.SUCCESS)

    @admin.display(description="model version")
    def model_version_link(self, run: TrainingRun) -> str:
        version = getattr(run, "model_version", None)
        if version is None:
            return NO_VALUE
        return format_html(
            '<a href="{}">v{}</a> {} {}',
            reverse("admin:classifier_modelversion_change", args=[version.pk]),
            version.version,
            status_tag(version.status, version.get_status_display()),
            percent(version.test_accuracy),
        )


@admin.register(PredictionJob)
class PredictionJobAdmin(JobAdmin):
    list_display = [
        "__str__",
        "project",
        "model_version",
        "kind",
        "status_display",
        "progress_bar",
        "images",
        "created_at",
        "waited_display",
        "duration_display",
        "timings_display",
        "error_short",
    ]
    list_filter = ["status", "kind", "project", "created_at"]
    list_select_related = ["project", "requested_by", "model_version__project"]
    fields = [
        ("project", "model_version", "kind"),
        ("status", "progress_bar", "images"),
        "timings_display",
        "error",
        ("requested_by", "created_at", "started_at", "finished_at"),
        ("waited_display", "duration_display"),
        ("worker", "heartbeat_at", "celery_task_id"),
        ("enqueued_at", "dispatch_attempts", "dispatch_error"),
        "image_ids",
        "inputs",
        "results",
    ]
    readonly_fields = ["progress_bar", "images", "timings_display", "waited_display",
                       "duration_display"]  # fmt: skip

    def view_on_site(self, job: PredictionJob) -> str:
        return reverse("project-jobs", args=[job.project_id])

    @admin.display(description="images", ordering="total")
    def images(self, job: PredictionJob) -> str:
        return f"{job.done} / {job.total}"

    @admin.display(description="time (ms)")
    def timings_display(self, job: PredictionJob) -> str:
        return (
            ", ".join(
                f"{key.removesuffix('_ms')} {value:.0f}"
                for key, value in (job.timings or {}).items()
            )
            or NO_VALUE
        )


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
        return bar_tag(prediction.confidence, "#0d6efd", percent(prediction.confidence))

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
