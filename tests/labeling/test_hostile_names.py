"""Whatever a file is called, it is stored safely and shown as it was meant.

The stored file's path is made from the project and the content's sha256, never from the name
the user gave, so it is always inside MEDIA_ROOT. The name is kept for display, cleaned:
NFC, no control characters (NUL, newlines, terminal escapes) and no bidirectional overrides,
at most the field's 255 characters (no DataError on PostgreSQL), shown escaped, and encoded
as RFC 6266 asks in the Content-Disposition of the file's download. Names reach ingest three
ways: the upload page and the API (Django's multipart parser already drops directories and
non-printable characters there) and zip members (paths in the archive, refused when they
climb out or are absolute).
"""

import csv
import io
import re
import urllib.parse
import zipfile
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils.html import escape
from rest_framework.authtoken.models import Token

from labeling.ingest import IncomingFile, image_ingest, upload_name_clean
from labeling.models import Annotation, Image, LabelStatus
from tests.factories import ImageFactory, ProjectFactory, UserFactory
from tests.support import upload_corpus as corpus

LONG_STEM = "a" * 1000
ELLIPSIS = "\N{HORIZONTAL ELLIPSIS}"
MARKUP = '"><img src=x onerror=alert(1)>.png'

# name given -> name stored, through the upload page and the API (multipart).
MULTIPART_NAMES = [
    pytest.param("../../etc/passwd.png", "passwd.png", id="traversal"),
    pytest.param("..\\..\\x.png", "x.png", id="windows-traversal"),
    pytest.param("/etc/passwd.png", "passwd.png", id="absolute"),
    pytest.param("C:\\Windows\\evil.png", "evil.png", id="drive-absolute"),
    # Django refuses part headers over 1 KB: 900 characters still pass, and are cut to 255.
    pytest.param("b" * 900 + ".png", "b" * 251 + ".png", id="900-characters"),
    pytest.param("cafe\u0301.png", "caf\u00e9.png", id="nfd-becomes-nfc"),
    pytest.param("caf\u00e9.png", "caf\u00e9.png", id="nfc"),
    pytest.param("invoice\u202egnp.exe.png", "invoicegnp.exe.png", id="rtl-override"),
    pytest.param("\u2615 \U0001f408.png", "\u2615 \U0001f408.png", id="emoji"),
    pytest.param("bad\x00na\nme\r\x1b[31m.png", "badname[31m.png", id="control-characters"),
    pytest.param(MARKUP, MARKUP, id="markup"),
]

# Zip members: their path is shown; names that climb out or are absolute are refused.
ZIP_NAMES = [
    pytest.param("../../etc/passwd.png", None, id="traversal"),
    pytest.param("..\\..\\x.png", None, id="windows-traversal"),
    pytest.param("/etc/passwd.png", None, id="absolute"),
    pytest.param("C:/Windows/evil.png", None, id="drive-absolute"),
    pytest.param(
        "dir/" + LONG_STEM + ".png", "dir/" + "a" * 246 + ELLIPSIS + ".png", id="1000-characters"
    ),
    pytest.param("x/cafe\u0301.png", "x/caf\u00e9.png", id="nfd-becomes-nfc"),
    pytest.param("x/invoice\u202egnp.exe.png", "x/invoicegnp.exe.png", id="rtl-override"),
    pytest.param(
        "x/\U0001f408\u200d\u2b1b.png", "x/\U0001f408\u200d\u2b1b.png", id="emoji-sequence"
    ),
    pytest.param("x/bad\nna\rme\x1b[31m.png", "x/badname[31m.png", id="control-characters"),
    pytest.param("x/" + MARKUP, "x/" + MARKUP, id="markup"),
]

# Given straight to the service (import_images, scripts): nothing has cleaned them before.
SERVICE_NAMES = [
    pytest.param("../../etc/passwd.png", "../../etc/passwd.png", id="traversal-shown-as-is"),
    pytest.param(LONG_STEM + ".png", "a" * 250 + ELLIPSIS + ".png", id="1000-characters"),
    pytest.param(LONG_STEM, "a" * 254 + ELLIPSIS, id="1000-characters-no-extension"),
    pytest.param("bad\x00name.png", "badname.png", id="nul"),
    pytest.param("line\u2028break.png", "linebreak.png", id="line-separator"),
    pytest.param("undecodable\udcff.png", "undecodable.png", id="lone-surrogate"),
    pytest.param(" \n\t ", "unnamed", id="nothing-left"),
]


def multipart_body(fields: dict[str, str], name: str, data: bytes) -> tuple[bytes, str]:
    """A multipart body carrying `name` exactly (RFC 2231 filename*), as a crafted request
    would: a browser escapes quotes and newlines itself."""
    boundary = "hostile-names-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'
        for key, value in fields.items()
    ]
    quoted = urllib.parse.quote(name, safe="")
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
        f"filename*=UTF-8''{quoted}\r\nContent-Type: image/png\r\n\r\n"
    )
    body = "".join(parts).encode() + head.encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def upload_through_page(client, project, name: str, data: bytes):
    body, content_type = multipart_body({"split": "auto", "label": ""}, name, data)
    return client.post(
        reverse("labeling:project-upload", args=[project.pk]),
        body,
        content_type=content_type,
        headers={"Accept": "application/json"},
    )


def upload_through_api(client, project, name: str, data: bytes):
    body, content_type = multipart_body({"split": "train"}, name, data)
    token = Token.objects.get_or_create(user=project.created_by)[0]
    return client.post(
        f"/api/projects/{project.pk}/images/",
        body,
        content_type=content_type,
        headers={"Authorization": f"Token {token.key}"},
    )


def disposition_filename(header: str) -> str:
    """The file name a browser reads from Content-Disposition (RFC 6266)."""
    if match := re.search(r"filename\*=utf-8''([^;]+)", header):
        return urllib.parse.unquote(match[1])
    quoted = re.search(r'filename="((?:[^"\\]|\\.)*)"', header)[1]
    return re.sub(r"\\(.)", r"\1", quoted)


def assert_stored_safely(image: Image, expected_name: str, media_root: Path) -> None:
    assert image.original_name == expected_name
    assert len(image.original_name) <= Image._meta.get_field("original_name").max_length
    for stored in (image.file, image.thumbnail):
        assert re.fullmatch(
            rf"projects/{image.project_id}/(images|thumbnails)/[0-9a-f]{{2}}/{image.sha256}\.\w+",
            stored.name,
        ), stored.name
        assert Path(stored.path).resolve().is_relative_to(media_root.resolve())


def assert_shown_escaped(client, image: Image) -> None:
    page = client.get(reverse("labeling:image-detail", args=[image.pk])).content.decode()
    assert escape(image.original_name) in page
    if "<" in image.original_name:
        assert image.original_name not in page


def assert_downloaded_under_its_name(client, image: Image) -> None:
    response = client.get(reverse("labeling:image-file", args=[image.pk]))
    header = response["Content-Disposition"]
    assert header.isascii() and not re.search(r"[\x00-\x1f\x7f]", header), header
    base = image.original_name.rsplit("/", 1)[-1]
    assert disposition_filename(header) == base.rsplit(".", 1)[0] + ".png"


@pytest.mark.parametrize(("name", "stored_as"), MULTIPART_NAMES)
def test_names_through_the_upload_page(client, project, owner, media_root, name, stored_as):
    client.force_login(owner)
    response = upload_through_page(client, project, name, corpus.png(seed=11))
    assert response.status_code == 201, response.content
    [created] = response.json()["created"]
    assert created["original_name"] == stored_as
    image = Image.objects.get(pk=created["id"])
    assert_stored_safely(image, stored_as, media_root)
    assert_shown_escaped(client, image)
    assert_downloaded_under_its_name(client, image)


@pytest.mark.parametrize(("name", "stored_as"), MULTIPART_NAMES)
def test_names_through_the_api(client, project, media_root, name, stored_as):
    response = upload_through_api(client, project, name, corpus.png(seed=12))
    assert response.status_code == 201, response.content
    image = Image.objects.get(pk=response.json()["created"][0]["id"])
    assert_stored_safely(image, stored_as, media_root)
    assert client.get(f"/api/images/{image.pk}/", headers={
        "Authorization": f"Token {Token.objects.get(user=project.created_by).key}"
    }).json()["original_name"] == stored_as  # fmt: skip


def test_a_name_too_long_for_a_multipart_header_is_a_clear_400_not_a_crash(
    client, project, owner, stored_files
):
    """Django reads at most 1 KB of headers per part: a 1,000-character name does not fit
    (a file system allows 255, so only a crafted request sends one)."""
    client.force_login(owner)
    response = upload_through_page(client, project, LONG_STEM + ".png", corpus.png(seed=13))
    assert response.status_code == 400
    assert "could not be read" in response.json()["detail"]
    api = upload_through_api(client, project, LONG_STEM + ".png", corpus.png(seed=13))
    assert api.status_code == 400 and "detail" in api.json()
    assert stored_files() == []


@pytest.mark.parametrize(("name", "stored_as"), ZIP_NAMES)
def test_names_of_zip_members(client, project, owner, media_root, stored_files, name, stored_as):
    archive = corpus.zip_archive({name: corpus.png(seed=14)})
    report = image_ingest(
        project=project,
        uploaded_by=owner,
        files=[IncomingFile(name="photos.zip", file=io.BytesIO(archive))],
    )
    if stored_as is None:
        [(shown, why)] = report.rejected
        assert shown == name and ("absolute" in why or "traversal" in why)
        assert report.created == [] and stored_files() == []
        return
    [image] = report.created
    assert_stored_safely(image, stored_as, media_root)
    client.force_login(owner)
    assert_shown_escaped(client, image)
    assert_downloaded_under_its_name(client, image)


@pytest.mark.parametrize(("name", "stored_as"), SERVICE_NAMES)
def test_names_given_to_ingest_directly(client, project, owner, media_root, name, stored_as):
    report = image_ingest(
        project=project,
        uploaded_by=owner,
        files=[IncomingFile(name=name, file=io.BytesIO(corpus.png(seed=15)))],
    )
    [image] = report.created
    image.refresh_from_db()
    assert_stored_safely(image, stored_as, media_root)


def test_rejected_files_are_reported_under_their_cleaned_name(project, owner):
    report = image_ingest(
        project=project,
        uploaded_by=owner,
        files=[IncomingFile(name="notes\x1b[2J\n.png", file=io.BytesIO(b"not an image"))],
    )
    assert [name for name, _ in report.rejected] == ["notes[2J.png"]


@pytest.mark.parametrize(
    "name", ["a" * 255, "a" * 256 + ".png", "x." + "e" * 300, "\U0001f408" * 300, "a/" * 200]
)
def test_a_cleaned_name_always_fits_the_field(name):
    assert 0 < len(upload_name_clean(name)) <= Image._meta.get_field("original_name").max_length


@pytest.mark.parametrize(
    ("original_name", "header"),
    [
        ("holiday.png", 'inline; filename="holiday.png"'),
        ('say "cheese".png', 'inline; filename="say \\"cheese\\".png"'),
        ("caf\u00e9 \u2615.png", "inline; filename*=utf-8''caf%C3%A9%20%E2%98%95.png"),
        ("old\nrow.png", "inline; filename*=utf-8''old%0Arow.png"),  # stored before cleaning
        ("photo.bmp", 'inline; filename="photo.png"'),  # BMP is stored as PNG
        ("folder/in/zip.png", 'inline; filename="zip.png"'),
    ],
)
def test_the_download_name_is_encoded_as_rfc_6266_asks(
    client, project, viewer, original_name, header
):
    image = ImageFactory(project=project, original_name=original_name)
    client.force_login(viewer)
    assert (
        client.get(reverse("labeling:image-file", args=[image.pk]))["Content-Disposition"] == header
    )


# --- Exports --------------------------------------------------------------------------------


@pytest.mark.parametrize("format", ["zip", "csv", "json"])
def test_an_export_of_a_hostile_project_has_a_plain_file_name(db, client, format):
    owner = UserFactory(username="eve")
    project = ProjectFactory(name='x"; filename=evil.exe\r\n<script>', created_by=owner)
    client.force_login(owner)
    response = client.get(reverse("labeling:project-export", args=[project.pk, format]))
    assert re.fullmatch(
        rf'attachment; filename="[a-z0-9_-]+-(dataset|labels)\.{format}"',
        response["Content-Disposition"],
    )


def test_the_dataset_zip_names_its_files_safely(client, project, owner, media_root):
    coffee = project.classes.get(name="coffee")
    for seed, name in enumerate(["../../evil.png", "C:\\x.png", MARKUP, "\u202e\n.png"]):
        ImageFactory(
            project=project,
            original_name=name,
            label=coffee,
            label_status=LabelStatus.LABELED,
            content=corpus.png(seed=seed + 20),
        )
    client.force_login(owner)
    response = client.get(reverse("labeling:project-export", args=[project.pk, "zip"]))
    entries = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))).namelist()
    names = [name for name in entries if not name.endswith("/")]  # not the split x class folders
    assert len(names) == 4
    for name in names:
        assert re.fullmatch(r"(train|validation|test)/coffee/[A-Za-z0-9._-]+", name), name


FORMULAS = ['=HYPERLINK("http://evil","x")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]


@pytest.mark.parametrize("formula", FORMULAS)
def test_csv_cells_that_a_spreadsheet_would_run_are_defused(db, client, formula):
    """CSV injection: a cell starting with = + - @ (or tab, carriage return) is a formula in
    Excel, LibreOffice and Google Sheets; the export prefixes it with an apostrophe."""
    owner = UserFactory(username="@owner")
    project = ProjectFactory(name="Formulas", created_by=owner, classes=[formula, "plain"])
    label = project.classes.get(name=formula)
    image = ImageFactory(
        project=project,
        original_name=formula + ".png",
        label=label,
        label_status=LabelStatus.LABELED,
    )
    Annotation.objects.create(image=image, user=owner, label_class=label)
    ImageFactory(project=project, original_name="plain.png")
    client.force_login(owner)
    response = client.get(reverse("labeling:project-export", args=[project.pk, "csv"]))
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    hostile, plain = rows
    assert hostile["original_name"] == "'" + formula + ".png"
    assert hostile["label"] == "'" + formula
    assert hostile["annotations"] == f"'@owner:{formula}"
    assert plain["original_name"] == "plain.png" and plain["annotations"] == ""
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), row
