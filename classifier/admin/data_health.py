"""The data-health rows and model exports in the admin: health checks (jobs, with what they
found and where the time went), their findings, the owners' answers to suspected label
errors, and the export jobs. Read-only like the other job rows: checks and exports are
started from the project's pages and the API (classifier.services); findings are reviewed
on the health page, which each row links to."""

from django.contrib import admin
from django.urls import reverse

from classifier.admin.base import ReadOnlyAdmin
from classifier.admin.jobs import JobAdmin
from classifier.models import DataIssue, HealthCheck, LabelCheckReview, ModelExport
from classifier.templatetags.classifier_tags import NO_VALUE


def _figures(values: dict) -> str:
    """{name: number} as "name 3, other 1"; timings rounded to tenths of a second."""
    return (
        ", ".join(
            f"{key} {round(value, 1) if isinstance(value, float) else value}"
            for key, value in (values or {}).items()
        )
        or NO_VALUE
    )


@admin.register(HealthCheck)
class HealthCheckAdmin(JobAdmin):
    list_display = [
        "__str__",
        "project",
        "trigger",
        "status_display",
        "progress_bar",
        "counts_display",
        "created_at",
        "waited_display",
        "duration_display",
        "error_short",
    ]
    list_filter = ["status", "trigger", "project", "created_at"]
    fields = [
        ("project", "trigger"),
        ("status", "progress_bar"),
        "counts_display",
        "timings_display",
        "error",
        ("requested_by", "created_at", "started_at", "finished_at"),
        ("waited_display", "duration_display"),
        ("worker", "heartbeat_at", "celery_task_id"),
        ("enqueued_at", "dispatch_attempts", "dispatch_error"),
    ]
    readonly_fields = ["progress_bar", "counts_display", "timings_display", "waited_display",
                       "duration_display"]  # fmt: skip

    def view_on_site(self, check: HealthCheck) -> str:
        return reverse("classifier:project-health", args=[check.project_id])

    @admin.display(description="found")
    def counts_display(self, check: HealthCheck) -> str:
        return _figures(check.counts)

    @admin.display(description="time (s)")
    def timings_display(self, check: HealthCheck) -> str:
        return _figures(check.timings)


@admin.register(DataIssue)
class DataIssueAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "project", "kind", "score", "images_display", "health_check"]
    list_filter = ["kind", "project"]
    list_select_related = ["project", "health_check"]
    fields = [("project", "health_check"), ("kind", "score"), "image", "image_ids", "detail"]

    def view_on_site(self, issue: DataIssue) -> str:
        return reverse("classifier:project-health", args=[issue.project_id])

    @admin.display(description="images")
    def images_display(self, issue: DataIssue) -> str:
        return ", ".join(str(image_id) for image_id in issue.image_ids[:8]) + (
            "…" if len(issue.image_ids) > 8 else ""
        )


@admin.register(LabelCheckReview)
class LabelCheckReviewAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "image", "decision", "label", "suggested_label", "reviewed_by",
                    "created_at"]  # fmt: skip
    list_filter = ["decision", "created_at"]
    list_select_related = ["image", "label", "suggested_label", "reviewed_by"]
    search_fields = ["reviewed_by__username"]


@admin.register(ModelExport)
class ModelExportAdmin(JobAdmin):
    list_display = [
        "__str__",
        "model_version",
        "format",
        "status_display",
        "progress_bar",
        "requested_by",
        "created_at",
        "duration_display",
        "error_short",
    ]
    list_filter = ["status", "format", "created_at"]
    list_select_related = ["model_version__project", "requested_by"]
    search_fields = ["model_version__project__name", "error", "worker", "celery_task_id"]
    fields = [
        ("model_version", "format"),
        ("status", "progress_bar"),
        ("file", "bundle"),
        "error",
        ("requested_by", "created_at", "started_at", "finished_at"),
        ("waited_display", "duration_display"),
        ("worker", "heartbeat_at", "celery_task_id"),
        ("enqueued_at", "dispatch_attempts", "dispatch_error"),
    ]
    readonly_fields = ["progress_bar", "waited_display", "duration_display"]
