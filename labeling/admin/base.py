"""What the labeling admins share: the stylesheet, thumbnails, and adopting a row a service
wrote."""

from django.template.loader import render_to_string

# The admin has no Bootstrap: app.css's admin section styles thumbnails and swatches.
ADMIN_CSS = {"all": ["css/app.css"]}


def thumbnail_tag(image_id: int, height: int) -> str:
    """A thumbnail `height` pixels high (40, 48, 64 or 256: app.css's sizes)."""
    return render_to_string(
        "admin/labeling/_thumbnail.html", {"image_id": image_id, "height": height}
    )


def adopt_saved_row(obj, saved) -> None:
    """The admin goes on with the object its form built (for the log and the redirect);
    give it the row that the service wrote."""
    obj.pk = saved.pk
    obj.refresh_from_db()
    obj._state.adding = False
