"""Image files and thumbnails, for members only: there is no public media URL."""

from django.http import FileResponse, Http404, HttpRequest, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.utils.cache import patch_cache_control
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from labeling import export
from labeling.models import Image
from labeling.permissions import image_for_user

_CONTENT_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "BMP": "image/bmp",
}
# Stored files never change (their names are their sha256), so a member's browser may keep
# them; "private" keeps them out of shared caches.
MEDIA_MAX_AGE = 3600
# Signed S3 URLs expire (AWS_QUERYSTRING_EXPIRE, default 300 s); the redirect to one must not
# be cached for longer than that.
SIGNED_REDIRECT_MAX_AGE = 60
# A stored file is an image whatever its bytes hold, and is never a document that runs
# anything: opened on its own, it gets no scripts, no plugins, no same-origin rights.
MEDIA_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
)


def _download_name(image: Image, extension: str) -> str:
    """The name a browser saves the file under: the uploaded name (cleaned at ingest) with the
    stored file's extension, which may differ (a BMP is stored as PNG)."""
    base = image.original_name.replace("\\", "/").rsplit("/", 1)[-1]
    stem = base.rsplit(".", 1)[0] if "." in base else base
    return f"{stem.strip() or 'image'}.{extension}"


def _stored_file_response(field_file, *, content_type: str, filename: str) -> HttpResponseBase:
    """The stored file with a Content-Type from the format ingest recorded (never guessed
    from bytes or names), nosniff, a sandboxing CSP, and the file's name in
    Content-Disposition, encoded as RFC 6266 asks."""
    storage, name = field_file.storage, field_file.name
    disposition = content_disposition_header(as_attachment=False, filename=filename)
    assert disposition is not None  # None only for an inline file without a name
    if getattr(storage, "querystring_auth", False):
        # S3 with signed URLs: the browser fetches the object itself, for a few minutes only;
        # the signed URL makes the store answer with our type and name.
        url = storage.url(
            name,
            parameters={
                "ResponseContentType": content_type,
                "ResponseContentDisposition": disposition,
            },
        )
        redirect = HttpResponseRedirect(url)
        patch_cache_control(redirect, private=True, max_age=SIGNED_REDIRECT_MAX_AGE)
        return redirect
    try:
        handle = storage.open(name, "rb")
    except FileNotFoundError:
        raise Http404("The stored file is missing.") from None
    response = FileResponse(handle, content_type=content_type)
    response["Content-Disposition"] = disposition
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = MEDIA_CONTENT_SECURITY_POLICY
    patch_cache_control(response, private=True, max_age=MEDIA_MAX_AGE)
    return response


def _image_content_type(image: Image) -> str:
    # A format ingest does not store (none today) would be bytes to download, never a page.
    return _CONTENT_TYPES.get(image.format.upper(), "application/octet-stream")


def _original_response(image: Image) -> HttpResponseBase:
    extension = export.EXTENSIONS.get(image.format.upper(), "bin")
    return _stored_file_response(
        image.file,
        content_type=_image_content_type(image),
        filename=_download_name(image, extension),
    )


@require_GET
def image_file(request: HttpRequest, pk: int) -> HttpResponseBase:
    image, _ = image_for_user(user=request.user, pk=pk)
    return _original_response(image)


@require_GET
def image_thumbnail(request: HttpRequest, pk: int) -> HttpResponseBase:
    image, _ = image_for_user(user=request.user, pk=pk)
    if not image.thumbnail:
        return _original_response(image)
    return _stored_file_response(
        image.thumbnail,
        content_type="image/jpeg",  # ingest writes every thumbnail as JPEG
        filename=_download_name(image, "thumbnail.jpg"),
    )
