"""The job rows' admin: training runs and prediction jobs, with status, progress, timings and
errors; queued or running runs are cancelled through classifier.services."""

from django.contrib import admin, messages
from django.template.loader import render_to_string
from django.urls import reverse

from classifier import services
from classifier.admin.base import ReadOnlyAdmin, job_progress_tag, status_tag
from classifier.models import UNFINISHED_STATUSES, JobStatus, PredictionJob, TrainingRun
from classifier.templatetags.classifier_tags import NO_VALUE, duration, elapsed, percent, waited


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
        return reverse("classifier:project-jobs", args=[run.project_id])

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
        return render_to_string(
            "admin/classifier/trainingrun/_model_version.html",
            {
                "version": version,
                "status": status_tag(version.status, version.get_status_display()),
                "test_accuracy": percent(version.test_accuracy),
            },
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
        return reverse("classifier:project-jobs", args=[job.project_id])

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
