"""What every classifier admin shares: read-only rows, the stylesheet, and the status tags
and bars drawn by templates (templates/admin/classifier/) with the site's status colours
(classifier.templatetags.classifier_tags.status_color) and app.css's admin rules."""

from django.contrib import admin
from django.template.loader import render_to_string

from classifier.templatetags.classifier_tags import status_color

# The admin has no Bootstrap: app.css's admin section gives the status colours there.
ADMIN_CSS = {"all": ["css/app.css"]}


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by the services and the workers: shown, never edited here."""

    class Media:
        css = ADMIN_CSS

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


def status_tag(status: str, label: str) -> str:
    """A job's or a version's status as a coloured pill."""
    return render_to_string(
        "admin/classifier/_status_tag.html", {"color": status_color(status), "label": label}
    )


def bar_tag(fraction: float, color: str, text: str) -> str:
    """A small horizontal bar (progress, confidence) in a status colour ("primary",
    "success", ...), with its figure beside it."""
    width = max(0, min(100, round(fraction * 100)))
    return render_to_string(
        "admin/classifier/_bar.html", {"width": width, "color": color, "text": text}
    )


def job_progress_tag(job) -> str:
    return bar_tag(job.progress / 100, status_color(job.status), f"{job.progress}%")


def thumbnail_tag(image_id: int, height: int) -> str:
    """An image's thumbnail, through the permission-checked media view (labeling's
    template, which labeling.admin draws its thumbnails with too)."""
    return render_to_string(
        "admin/labeling/_thumbnail.html", {"image_id": image_id, "height": height}
    )
