"""Uploads when the storage fails: a full disk, or an object store that refuses the write.

The policy (labeling.ingest, "WHEN THE STORAGE FAILS"): nothing of the failing file is left
(no row, no image file, no thumbnail, no partial file); files stored before the failure stay
stored; nothing more is written in that upload, and every later file is reported with the
reason. The page and the API answer 507 (full) or 503 (unavailable) with every file's verdict;
import_images stops and fails, saying how many files were not stored.
"""

import errno
import io
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from labeling.ingest import IncomingFile, image_ingest
from labeling.models import Image
from tests.labeling.storage_faults import (
    FULL,
    UNAVAILABLE,
    files_below,
    small_tmpfs,
    stored_files_of,
)
from tests.support import upload_corpus as corpus
from tests.support.availability import not_available_here


def ingest(project, user, files: dict[str, bytes], **options):
    incoming = [IncomingFile(name=name, file=io.BytesIO(data)) for name, data in files.items()]
    return image_ingest(project=project, uploaded_by=user, files=incoming, **options)


# --------------------------------------------------------------------------------------------
# The ingest service
# --------------------------------------------------------------------------------------------


def test_a_disk_that_fills_while_writing_the_thumbnail_leaves_no_row_and_no_file(
    project, owner, disk_full_after
):
    media = disk_full_after(1)  # the image file fits, its thumbnail does not

    report = ingest(project, owner, {"cup.jpg": corpus.jpeg(seed=1)})

    assert report.created == []
    assert report.rejected == [("cup.jpg", FULL)]
    assert report.storage_failure.full
    assert Image.objects.count() == 0
    assert files_below(media) == []  # not the image, not half a thumbnail


def test_a_disk_that_fills_while_writing_the_image_leaves_no_partial_file(
    project, owner, disk_full_after
):
    media = disk_full_after(0)

    report = ingest(project, owner, {"cup.png": corpus.png(size=(400, 300), seed=1)})

    assert report.rejected == [("cup.png", FULL)]
    assert Image.objects.count() == 0
    assert files_below(media) == []


def test_files_stored_before_the_disk_filled_stay_and_every_later_file_is_reported(
    project, owner, disk_full_after
):
    media = disk_full_after(4)  # room for two images (file + thumbnail each)
    [earlier] = ingest(project, owner, {"earlier.png": corpus.png(seed=1)}).created

    report = ingest(
        project,
        owner,
        {
            "first.png": corpus.png(seed=2),  # stored: the disk is full after it
            "second.png": corpus.png(seed=3),  # fails halfway through its image file
            "third.png": corpus.png(seed=4),  # not attempted: same failure
            "earlier-again.png": corpus.png(seed=1),  # still a duplicate: nothing to write
        },
    )

    [first] = report.created
    assert first.original_name == "first.png"
    assert report.duplicates == [("earlier-again.png", earlier)]
    assert report.rejected == [("second.png", FULL), ("third.png", FULL)]
    assert list(Image.objects.order_by("pk")) == [earlier, first]
    assert files_below(media) == stored_files_of(earlier, first)


def test_a_storage_failing_otherwise_is_reported_as_unavailable_not_full(
    project, owner, disk_full_after
):
    media = disk_full_after(0, errno.EROFS)

    report = ingest(project, owner, {"cup.jpg": corpus.jpeg(seed=1)})

    assert report.rejected == [("cup.jpg", UNAVAILABLE)]
    assert not report.storage_failure.full
    assert "Read-only file system" in report.storage_failure.cause
    assert Image.objects.count() == 0
    assert files_below(media) == []


@pytest.fixture
def small_disk(tmp_path) -> Iterator[Path]:
    """A real filesystem of 400 KB (a tmpfs), for the media; needs root."""
    try:
        with small_tmpfs(tmp_path / "small-disk", kilobytes=400) as mountpoint:
            yield mountpoint
    except PermissionError as error:
        not_available_here(f"cannot make a small filesystem to fill: {error}")


def test_a_real_full_filesystem_mid_batch_leaves_only_whole_images(
    project, owner, settings, small_disk
):
    # Room for about three of these incompressible images (file + thumbnail, ~105 KB each):
    # the disk really fills up somewhere in the batch.
    pictures = {f"noise-{seed}.png": corpus.png(size=(160, 160), seed=seed) for seed in range(6)}
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "labelplatform.media_storage.MediaFileSystemStorage",
            "OPTIONS": {"location": str(small_disk), "base_url": "/media/"},
        },
    }

    report = ingest(project, owner, pictures)

    assert report.created and report.rejected, report
    assert report.storage_failure.full, report.storage_failure
    assert [name for name, _ in report.rejected] == list(pictures)[len(report.created) :]
    assert {reason for _, reason in report.rejected} == {FULL}
    images = list(Image.objects.order_by("pk"))
    assert images == report.created
    # Every file on the disk belongs to a row and every row has both its files: nothing
    # truncated, no leftover temporary file.
    assert files_below(small_disk) == stored_files_of(*images)
    for image in images:
        with image.file.open("rb") as stored:
            assert stored.read() == pictures[image.original_name]


# --------------------------------------------------------------------------------------------
# The upload page, the API and import_images
# --------------------------------------------------------------------------------------------


def page_upload(client, project, files: dict[str, bytes], *, accept="application/json"):
    data = {"split": "auto", "label": ""}
    data["files"] = [SimpleUploadedFile(name, content) for name, content in files.items()]
    return client.post(
        reverse("labeling:project-upload", args=[project.pk]), data, headers={"Accept": accept}
    )


def test_the_upload_page_answers_507_with_each_files_verdict(
    client, project, annotator, disk_full_after
):
    media = disk_full_after(2)
    client.force_login(annotator)

    response = page_upload(
        client, project, {"cup.jpg": corpus.jpeg(seed=1), "mug.jpg": corpus.jpeg(seed=2)}
    )

    assert response.status_code == 507
    body = response.json()
    assert body["detail"].startswith("The server's storage is full: 1 file(s) stored, 1 not")
    assert [item["original_name"] for item in body["created"]] == ["cup.jpg"]
    assert body["rejected"] == [{"name": "mug.jpg", "error": FULL}]
    [image] = Image.objects.all()
    assert files_below(media) == stored_files_of(image)


def test_the_upload_form_without_script_shows_the_message_on_the_page(
    client, project, annotator, disk_full_after
):
    media = disk_full_after(0)
    client.force_login(annotator)

    response = page_upload(client, project, {"cup.jpg": corpus.jpeg(seed=1)}, accept="text/html")

    assert response.status_code == 507
    page = response.content.decode()
    assert "The server&#x27;s storage is full: 0 file(s) stored, 1 not stored." in page
    assert FULL.replace("'", "&#x27;") in page  # the file's own verdict row
    assert Image.objects.count() == 0
    assert files_below(media) == []


def test_import_images_stops_at_a_full_disk_and_says_how_many_were_not_stored(
    project, owner, disk_full_after, tmp_path
):
    media = disk_full_after(2)  # room for one image
    tree = tmp_path / "tree"
    for relative, data in {
        "coffee/a.jpg": corpus.jpeg(seed=1),
        "coffee/b.jpg": corpus.jpeg(seed=2),
        "other/c.jpg": corpus.jpeg(seed=3),
        "other/d.jpg": corpus.jpeg(seed=4),
    }.items():
        (tree / relative).parent.mkdir(parents=True, exist_ok=True)
        (tree / relative).write_bytes(data)
    out = StringIO()

    with pytest.raises(CommandError) as failed:
        call_command("import_images", str(project.pk), str(tree), stdout=out, stderr=StringIO())

    assert str(failed.value) == (
        "The server's storage is full: 1 file(s) stored, 1 not stored. 2 file(s) in later class "
        "folders were not read. Free space (or fix the storage) and run the same command "
        "again: the images already stored are reported as duplicates."
    )
    assert f"coffee/b.jpg: {FULL}" in out.getvalue()
    [image] = Image.objects.all()
    assert image.original_name == "coffee/a.jpg"
    assert files_below(media) == stored_files_of(image)


# --------------------------------------------------------------------------------------------
# The upload's temporary spool (FILE_UPLOAD_TEMP_DIR, /tmp by default) filling up
# --------------------------------------------------------------------------------------------


def spool_filling_files() -> dict[str, bytes]:
    # The first fits in the spool, the second (incompressible, ~300 KB) fills it.
    return {
        "fits.png": corpus.png(size=(60, 60), seed=1),
        "too-big.png": corpus.png(size=(320, 320), seed=2),
    }


def test_an_upload_page_request_whose_spool_fills_answers_507_and_stores_nothing(
    client, project, annotator, small_spool, media_root
):
    client.force_login(annotator)

    response = page_upload(client, project, spool_filling_files())

    assert response.status_code == 507
    assert "temporary space for uploads is full" in response.json()["detail"]
    assert response["Retry-After"]
    assert Image.objects.count() == 0
    assert files_below(Path(media_root)) == []
    assert files_below(small_spool) == []  # the partial spool file went too


def test_with_room_in_the_spool_the_same_upload_is_stored(
    client, project, annotator, small_spool, settings
):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024  # nothing spooled
    client.force_login(annotator)

    response = page_upload(client, project, spool_filling_files())

    assert response.status_code == 201, response.content
    assert Image.objects.count() == 2
