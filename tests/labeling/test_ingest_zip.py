"""image_ingest with zip uploads: members one by one, bombs and traversal refused."""

import io
import zipfile

import pytest

from labeling.ingest import IncomingFile, image_ingest
from labeling.models import Image
from tests.support import upload_corpus as corpus

pytestmark = pytest.mark.usefixtures("media_root")


def upload_zip(project, user, archive: bytes, name="photos.zip", **options):
    return image_ingest(
        project=project,
        uploaded_by=user,
        files=[IncomingFile(name=name, file=io.BytesIO(archive))],
        **options,
    )


def test_members_in_nested_folders_are_stored_with_their_path(project, owner):
    archive = corpus.zip_archive(
        {
            "holiday/": b"",
            "holiday/day1/cup.jpg": corpus.jpeg(seed=1),
            "holiday/day2/mug.png": corpus.png(seed=2),
            "top.webp": corpus.webp(seed=3),
        }
    )
    report = upload_zip(project, owner, archive)
    assert [image.original_name for image in report.created] == [
        "holiday/day1/cup.jpg",
        "holiday/day2/mug.png",
        "top.webp",
    ]
    assert (report.duplicates, report.rejected) == ([], [])


def test_macos_metadata_and_dotfiles_are_skipped_silently(project, owner):
    archive = corpus.zip_archive(
        {
            "cup.jpg": corpus.jpeg(seed=1),
            "__MACOSX/._cup.jpg": b"\x00\x05\x16\x07 resource fork",
            "._cup.jpg": b"\x00\x05\x16\x07 resource fork",
            ".DS_Store": b"\x00\x00\x00\x01Bud1",
            "folder/.hidden.png": corpus.png(seed=2),
        }
    )
    report = upload_zip(project, owner, archive)
    assert [image.original_name for image in report.created] == ["cup.jpg"]
    assert report.rejected == []


def test_a_non_image_member_is_reported_and_the_rest_stored(project, owner):
    archive = corpus.zip_archive(
        {
            "a.jpg": corpus.jpeg(seed=1),
            "readme.txt": b"Photos from the coffee shop.\n",
            "b.png": corpus.png(seed=2),
        }
    )
    report = upload_zip(project, owner, archive)
    assert report.rejected == [("readme.txt", "not a readable image (looks like text)")]
    assert [image.original_name for image in report.created] == ["a.jpg", "b.png"]


def test_path_traversal_names_are_refused(project, owner, stored_files):
    archive = corpus.zip_archive(
        {
            "../escape.png": corpus.png(seed=1),
            "safe/../../escape2.png": corpus.png(seed=2),
            "/etc/absolute.png": corpus.png(seed=3),
            "C:\\windows\\drive.png": corpus.png(seed=4),
            "fine.png": corpus.png(seed=5),
        }
    )
    report = upload_zip(project, owner, archive)
    assert report.rejected == [
        ("../escape.png", "path with '..' in a zip refused (path traversal)"),
        ("safe/../../escape2.png", "path with '..' in a zip refused (path traversal)"),
        ("/etc/absolute.png", "absolute path in a zip refused"),
        ("C:\\windows\\drive.png", "absolute path in a zip refused"),
    ]
    [image] = report.created
    assert image.original_name == "fine.png"
    assert len(stored_files()) == 2


def test_a_zip_bomb_member_is_refused_without_being_expanded(project, owner, stored_files):
    archive = corpus.zip_archive(
        {"bomb.png": corpus.zip_bomb_member(), "fine.png": corpus.png(seed=1)}
    )
    assert len(archive) < 200_000  # 64 MB of zeros, deflated

    report = upload_zip(project, owner, archive)

    [(name, reason)] = report.rejected
    assert name == "bomb.png"
    assert reason.startswith("compression ratio ")
    assert reason.endswith(":1 is over the 100:1 limit (zip bomb?)")
    assert [image.original_name for image in report.created] == ["fine.png"]
    assert len(stored_files()) == 2


def test_a_zip_expanding_past_the_total_limit_is_refused_whole(project, owner, settings):
    settings.ZIP_MAX_UNCOMPRESSED_BYTES = 10_000
    archive = corpus.zip_archive(
        {f"{n}.png": corpus.png(size=(40, 40), seed=n) for n in range(3)},
        compression=zipfile.ZIP_STORED,
    )
    report = upload_zip(project, owner, archive)
    [(name, reason)] = report.rejected
    assert name == "photos.zip"
    assert reason.startswith("zip would expand to ")
    assert reason.endswith(", over the 9.8 KB limit (zip bomb?)")
    assert not Image.objects.exists()


def test_a_zip_with_too_many_members_is_refused_whole(project, owner, settings):
    settings.ZIP_MAX_MEMBERS = 3
    archive = corpus.zip_archive({f"{n}.png": corpus.png(seed=n) for n in range(4)})
    report = upload_zip(project, owner, archive)
    assert report.rejected == [("photos.zip", "zip has 4 entries, over the limit of 3")]
    assert not Image.objects.exists()


def test_a_member_holding_more_than_its_header_declares_is_refused(project, owner, stored_files):
    real = corpus.png(size=(200, 200), seed=1)
    archive = corpus.zip_with_lying_header(real, declared_size=1000)
    report = upload_zip(project, owner, archive)
    [(name, reason)] = report.rejected
    assert name == "liar.png"
    assert reason.startswith("zip member is corrupt")
    assert stored_files() == []


def test_a_member_over_the_byte_limit_is_refused_by_its_declared_size(project, owner, settings):
    settings.IMAGE_MAX_BYTES = 1024
    data = corpus.png(size=(60, 60))
    archive = corpus.zip_archive({"big.png": data}, compression=zipfile.ZIP_STORED)
    report = upload_zip(project, owner, archive)
    assert report.rejected == [
        ("big.png", f"file is {len(data) / 1024:.1f} KB, over the 1 KB limit")
    ]


def test_a_zip_inside_a_zip_is_not_expanded(project, owner):
    inner = corpus.zip_archive({"a.png": corpus.png(seed=1)})
    report = upload_zip(project, owner, corpus.zip_archive({"inner.zip": inner}))
    assert report.rejected == [("inner.zip", "zip inside a zip is not expanded")]


def test_a_file_named_zip_that_is_not_one_is_rejected(project, owner):
    report = upload_zip(project, owner, corpus.jpeg(), name="photos.zip")
    assert report.rejected == [("photos.zip", "not a valid zip archive")]


def test_a_zip_uploaded_with_an_image_name_is_explained(project, owner):
    archive = corpus.zip_archive({"a.png": corpus.png(seed=1)})
    report = upload_zip(project, owner, archive, name="a.jpg")
    assert report.rejected == [
        (
            "a.jpg",
            "not a readable image (looks like a zip archive; name it .zip to upload its contents)",
        )
    ]


def test_duplicates_inside_a_zip_and_against_the_project_are_reported(project, owner):
    first = corpus.png(seed=1)
    [existing] = upload_zip(project, owner, corpus.zip_archive({"first.png": first})).created
    second = corpus.png(seed=2)
    archive = corpus.zip_archive({"again.png": first, "new.png": second, "new-copy.png": second})
    report = upload_zip(project, owner, archive)
    [created] = report.created
    assert report.duplicates == [("again.png", existing), ("new-copy.png", created)]


def test_zip_members_and_plain_files_mix_in_one_upload(project, owner):
    report = image_ingest(
        project=project,
        uploaded_by=owner,
        files=[
            IncomingFile("loose.png", io.BytesIO(corpus.png(seed=1))),
            IncomingFile(
                "Batch.ZIP", io.BytesIO(corpus.zip_archive({"in.png": corpus.png(seed=2)}))
            ),
        ],
    )
    assert [image.original_name for image in report.created] == ["loose.png", "in.png"]
