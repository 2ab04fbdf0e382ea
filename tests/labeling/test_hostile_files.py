"""Uploaded files that are (or hide) HTML or SVG are never stored or served as such.

Ingest opens every file with Pillow, limited to JPEG, PNG, WebP, GIF and BMP: an SVG or an
HTML page does not open, whatever it is named, and is refused with a reason naming what it
looks like. A file that is a valid image *and* carries markup (a GIF/HTML polyglot) is
re-encoded, so the stored file is pixels only. The media views answer with a Content-Type
from the stored format, nosniff and a sandboxing Content-Security-Policy.
"""

import io
import re

import boto3
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse
from moto import mock_aws
from PIL import Image as PILImage
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from labeling.ingest import IncomingFile, image_ingest
from labeling.models import Image
from tests.factories import ImageFactory
from tests.labeling.test_media import S3_STORAGES
from tests.support import upload_corpus as corpus

SVG_WITH_SCRIPT = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b'<script>alert(document.domain)</script><rect width="10" height="10"/></svg>\n'
)
HTML_PAGE = b"<!doctype html><html><body><script>alert(document.domain)</script></body></html>"


def gif_html_polyglot() -> bytes:
    """A valid GIF whose bytes are also a page: a script in the GIF's comment block and a
    whole HTML document after its end."""
    buffer = io.BytesIO()
    corpus.photo(seed=7).convert("P").save(
        buffer, format="GIF", comment=b"<script>alert(document.domain)</script>"
    )
    return buffer.getvalue() + b"<html><body><script>alert(document.domain)</script></body></html>"


def html_then_gif() -> bytes:
    """An HTML page with a GIF appended: what a browser sniffing the start would render."""
    return HTML_PAGE + corpus.gif(seed=8)


def api_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def upload_page(client, project, name: str, data: bytes):
    return client.post(
        reverse("labeling:project-upload", args=[project.pk]),
        {"split": "auto", "label": "", "files": [SimpleUploadedFile(name, data)]},
        headers={"Accept": "application/json"},
    )


REFUSED = [
    pytest.param("drawing.svg", SVG_WITH_SCRIPT, "looks like SVG", id="svg-with-script"),
    pytest.param("drawing.png", SVG_WITH_SCRIPT, "looks like SVG", id="svg-named-png"),
    pytest.param("photo.png", HTML_PAGE, "looks like HTML", id="html-named-png"),
    pytest.param("photo.gif", html_then_gif(), "looks like HTML", id="html-then-gif"),
]


@pytest.mark.parametrize(("name", "data", "reason"), REFUSED)
def test_markup_files_are_refused_on_the_upload_page_with_a_reason(
    client, project, annotator, stored_files, name, data, reason
):
    client.force_login(annotator)
    verdicts = upload_page(client, project, name, data).json()
    assert verdicts["created"] == []
    [rejected] = verdicts["rejected"]
    assert rejected["name"] == name
    assert reason in rejected["error"]
    assert stored_files() == [] and not Image.objects.exists()


@pytest.mark.parametrize(("name", "data", "reason"), REFUSED)
def test_markup_files_are_refused_by_the_api(project, annotator, name, data, reason):
    response = api_client(annotator).post(
        f"/api/projects/{project.pk}/images/",
        {"files": [SimpleUploadedFile(name, data)]},
        format="multipart",
    )
    [rejected] = response.json()["rejected"]
    assert (rejected["name"], reason in rejected["error"]) == (name, True)


def test_markup_files_in_a_zip_are_refused_one_by_one(project, owner, stored_files):
    archive = corpus.zip_archive(
        {"a/drawing.svg": SVG_WITH_SCRIPT, "a/page.png": HTML_PAGE, "a/fine.png": corpus.png()}
    )
    report = image_ingest(
        project=project,
        uploaded_by=owner,
        files=[IncomingFile(name="photos.zip", file=io.BytesIO(archive))],
    )
    assert [image.original_name for image in report.created] == ["a/fine.png"]
    assert [(name, "looks like" in why) for name, why in report.rejected] == [
        ("a/drawing.svg", True),
        ("a/page.png", True),
    ]


def test_a_gif_that_is_also_a_page_is_stored_as_pixels_only(client, project, owner, media_root):
    """The polyglot is a valid image, so it is kept; re-encoded, it carries no markup."""
    client.force_login(owner)
    [created] = upload_page(client, project, "funny.gif", gif_html_polyglot()).json()["created"]
    image = Image.objects.get(pk=created["id"])
    stored = image.file.read()
    assert image.format == "PNG" and stored.startswith(b"\x89PNG")
    assert b"<script" not in stored.lower() and b"<html" not in stored.lower()
    assert b"<script" not in image.thumbnail.read().lower()
    polyglot = PILImage.open(io.BytesIO(gif_html_polyglot())).convert("RGB")
    assert PILImage.open(io.BytesIO(stored)).convert("RGB").tobytes() == polyglot.tobytes()


@pytest.mark.parametrize("format", ["JPEG", "PNG"])
def test_markup_in_an_images_metadata_is_dropped_too(project, owner, media_root, format):
    buffer = io.BytesIO()
    options = {"comment": b"<script>alert(1)</script>"} if format == "JPEG" else {}
    if format == "PNG":
        from PIL.PngImagePlugin import PngInfo

        options["pnginfo"] = PngInfo()
        options["pnginfo"].add_text("Comment", "<html><script>alert(1)</script>")
    corpus.photo(seed=9).save(buffer, format=format, **options)
    report = image_ingest(
        project=project,
        uploaded_by=owner,
        files=[IncomingFile(name=f"x.{format.lower()}", file=io.BytesIO(buffer.getvalue()))],
    )
    [image] = report.created
    assert image.format == format
    assert b"<script" not in image.file.read().lower()


def test_an_honest_image_is_stored_byte_for_byte(project, owner, media_root):
    data = corpus.jpeg(seed=3)
    report = image_ingest(
        project=project,
        uploaded_by=owner,
        files=[IncomingFile(name="honest.jpg", file=io.BytesIO(data))],
    )
    assert report.created[0].file.read() == data


# --- How media is served ------------------------------------------------------------------


def test_secure_content_type_nosniff_is_on_for_every_response():
    # Every answer carries it (asserted for each URL and caller in
    # tests/test_url_permission_matrix.py); the setting is what puts it there.
    assert settings.SECURE_CONTENT_TYPE_NOSNIFF is True
    assert "django.middleware.security.SecurityMiddleware" in settings.MIDDLEWARE


@pytest.mark.parametrize(
    ("url_name", "content_type"),
    [("labeling:image-file", "image/png"), ("labeling:image-thumbnail", "image/jpeg")],
)
def test_media_answers_are_typed_from_the_stored_format_and_sandboxed(
    client, project, viewer, url_name, content_type
):
    image = ImageFactory(project=project, original_name="holiday.png")
    client.force_login(viewer)
    response = client.get(reverse(url_name, args=[image.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["X-Content-Type-Options"] == "nosniff"
    policy = response["Content-Security-Policy"]
    assert "sandbox" in policy and "default-src 'none'" in policy
    assert "script-src" not in policy
    assert response["Content-Disposition"].startswith("inline; ")


@pytest.mark.parametrize("claimed", ["SVG", "HTML", ""])
def test_a_row_claiming_another_format_is_served_as_bytes_never_as_a_page(
    client, project, viewer, claimed
):
    """Ingest stores only the five image formats; should a row ever say otherwise, its file
    is still not rendered (no image/svg+xml, no text/html, nothing guessed from the name)."""
    image = ImageFactory(project=project, format=claimed)
    client.force_login(viewer)
    response = client.get(reverse("labeling:image-file", args=[image.pk]))
    assert response["Content-Type"] == "application/octet-stream"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.fixture
def s3_bucket():
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="labelplatform-test")
        with override_settings(STORAGES=S3_STORAGES):
            yield


def test_on_s3_the_signed_url_makes_the_store_answer_with_our_type_and_name(
    client, project, viewer, s3_bucket
):
    image = ImageFactory(project=project, original_name="<b>x</b>.png")
    client.force_login(viewer)
    location = client.get(reverse("labeling:image-file", args=[image.pk]))["Location"]
    assert "response-content-type=image%2Fpng" in location
    disposition = re.search(r"response-content-disposition=([^&]+)", location)[1]
    assert disposition.startswith("inline")
    assert "<" not in disposition
