"""The classifier's panels on labeling's pages (dashboard, image page) and small filters
for its own pages. Each panel fetches what it shows through classifier.selectors."""

from datetime import timedelta

from django import template
from django.utils import timezone

from classifier import selectors
from classifier.models import JobStatus, ModelVersionStatus, TrainingRun

register = template.Library()

# What a figure shows when there is none (no run yet, no metric recorded).
NO_VALUE = "\N{EN DASH}"


@register.inclusion_tag("classifier/_model_panel.html")
def project_model_panel(project, can_manage: bool) -> dict:
    """The dashboard's "Model" card: the active version, the training under way or the last
    one that failed, and (for owners) the Retrain button."""
    return {
        "project": project,
        "can_manage": can_manage,
        **selectors.project_model_summary(project=project),
    }


@register.inclusion_tag("classifier/_predictions_panel.html")
def image_predictions_panel(image, classes) -> dict:
    """The image page's "Predictions" card: every version's prediction with its
    probabilities, beside the human label shown above it."""
    return {
        "image": image,
        "predictions": selectors.image_predictions_shown(image=image, classes=classes),
    }


# The one table of status colours, by Bootstrap colour name: the site's badges use it as
# text-bg-<name>, the admin's tags (classifier.admin.base) as app.css's status-bg-<name>.
STATUS_COLORS: dict[str, str] = {
    JobStatus.QUEUED: "secondary",
    JobStatus.RUNNING: "primary",
    JobStatus.SUCCEEDED: "success",
    JobStatus.FAILED: "danger",
    JobStatus.CANCELLED: "warning",
    ModelVersionStatus.ACTIVE: "success",
    ModelVersionStatus.CANDIDATE: "info",
    ModelVersionStatus.RETIRED: "secondary",
}


@register.filter
def status_color(status: str) -> str:
    """The Bootstrap colour name of a job's or a version's status."""
    return STATUS_COLORS.get(status, "secondary")


@register.filter
def percent(value, digits: int = 1) -> str:
    """0.9734 -> "97.3%"; an en dash for no value."""
    if value is None or value == "":
        return NO_VALUE
    return f"{float(value) * 100:.{int(digits)}f}%"


@register.filter
def duration(value: timedelta | None) -> str:
    """A short human duration: "850 ms", "42 s", "3 min 5 s", "1 h 02 min"."""
    if value is None:
        return NO_VALUE
    seconds = value.total_seconds()
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    minutes, seconds = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


@register.filter
def elapsed(job) -> timedelta | None:
    """How long a job ran (finished) or has been running (so far)."""
    if job.started_at is None:
        return None
    return (job.finished_at or timezone.now()) - job.started_at


@register.filter
def waited(job) -> timedelta | None:
    """How long a job waited in the queue before a worker took it."""
    if job.started_at is None:
        return None
    return job.started_at - job.created_at


@register.filter
def worker_stopping(job) -> bool:
    return selectors.job_worker_stopping(job)


@register.filter
def is_training_run(job) -> bool:
    return isinstance(job, TrainingRun)


@register.filter
def images_per_second(job) -> str:
    """A prediction job's speed so far: "123 img/s"; a dash before it has done anything."""
    ran = elapsed(job)
    if not ran or not job.done:
        return NO_VALUE
    return f"{job.done / max(ran.total_seconds(), 1e-3):.0f} img/s"


@register.filter
def per_class(version) -> list[tuple[str, dict]]:
    """A version's per-class test metrics in the head's class order."""
    return selectors.metrics_per_class(version.metrics)


@register.filter
def split_counts(version) -> list[dict]:
    """The images per split (and class) a version was made from, train first."""
    return selectors.model_version_counts(version=version)
