"""image_ingest: validation, normalisation, duplicates, storage and what it tells others."""

import hashlib
import io
import threading

import numpy as np
import pytest
from django.db import DatabaseError, connection
from django.db.models.signals import pre_save
from PIL import Image as PILImage

from labeling.ingest import IncomingFile, image_ingest
from labeling.models import Annotation, Image, LabelStatus, Split
from labeling.signals import images_created
from tests.support import upload_corpus as corpus

pytestmark = pytest.mark.usefixtures("media_root")


def upload(project, user, files, **options):
    """Ingest [(name, bytes), ...] as one upload."""
    incoming = [IncomingFile(name=name, file=io.BytesIO(data)) for name, data in files]
    return image_ingest(project=project, uploaded_by=user, files=incoming, **options)


def stored_picture(image: Image) -> PILImage.Image:
    with image.file.open("rb") as stored:
        picture = PILImage.open(io.BytesIO(stored.read()))
        picture.load()
    return picture


def stored_bytes(field_file) -> bytes:
    with field_file.open("rb") as stored:
        return stored.read()


def expected_files(image: Image) -> list[str]:
    return sorted([image.file.name, image.thumbnail.name])


BAD_FILES = [
    ("truncated.jpg", corpus.truncated_jpeg, "file is truncated or corrupt"),
    ("empty.jpg", lambda: b"", "file is empty (0 bytes)"),
    (
        "cut-in-header.png",
        lambda: corpus.png()[:30],
        "file is truncated or corrupt (its header is damaged)",
    ),
    ("notes.jpg", corpus.text_named_jpg, "not a readable image (looks like text)"),
    ("page.jpg", corpus.html_page, "not a readable image (looks like HTML)"),
    ("drawing.svg", corpus.svg_drawing, "not a readable image (looks like SVG)"),
    ("scan.tiff", corpus.tiff, "TIFF is not accepted; use JPEG, PNG, WebP, GIF or BMP"),
    (
        "huge.png",
        corpus.huge_png,
        "image is 20000×20000 = 400 MP, over the 40 MP limit",  # noqa: RUF001
    ),
    (
        "noise.jpg",
        lambda: bytes(range(256)) * 8,
        "not a readable image (accepted: JPEG, PNG, WebP, GIF or BMP)",
    ),
]


@pytest.mark.parametrize(("name", "build", "reason"), BAD_FILES, ids=[f[0] for f in BAD_FILES])
def test_a_bad_file_is_rejected_with_its_reason_and_the_good_ones_beside_it_are_stored(
    project, owner, stored_files, name, build, reason
):
    report = upload(
        project,
        owner,
        [("before.jpg", corpus.jpeg(seed=1)), (name, build()), ("after.png", corpus.png(seed=2))],
    )

    assert report.rejected == [(name, reason)]
    assert [image.original_name for image in report.created] == ["before.jpg", "after.png"]
    assert Image.objects.filter(project=project).count() == 2
    assert stored_files() == sorted(
        expected_files(report.created[0]) + expected_files(report.created[1])
    )


def test_the_pixel_limit_is_checked_on_the_header_before_decoding(project, owner, settings):
    # The declared 3000x2000 image holds only a token of pixel data: decoding it would fail
    # as corrupt, so the pixel message proves the header was checked first.
    settings.IMAGE_MAX_PIXELS = 5_000_000
    report = upload(project, owner, [("wide.png", corpus.huge_png(3000, 2000))])
    assert report.rejected == [
        ("wide.png", "image is 3000×2000 = 6 MP, over the 5 MP limit")  # noqa: RUF001
    ]


def test_a_file_over_the_byte_limit_is_rejected_before_it_is_read(project, owner, settings):
    settings.IMAGE_MAX_BYTES = 2048
    data = corpus.png(size=(100, 100))
    report = upload(project, owner, [("big.png", data)])
    assert report.rejected == [
        ("big.png", f"file is {len(data) / 1024:.1f} KB, over the 2 KB limit")
    ]


@pytest.mark.parametrize(
    ("name", "build", "format"),
    [
        ("photo.jpg", corpus.jpeg, "JPEG"),
        ("photo.png", corpus.png, "PNG"),
        ("photo.webp", corpus.webp, "WEBP"),
        ("photo.gif", corpus.gif, "GIF"),
    ],
)
def test_an_image_browsers_read_is_stored_byte_for_byte(project, owner, name, build, format):
    data = build()
    [image] = upload(project, owner, [(name, data)]).created
    assert stored_bytes(image.file) == data
    assert (image.format, image.width, image.height) == (format, 64, 48)
    assert image.sha256 == hashlib.sha256(data).hexdigest()


def test_an_exif_rotated_jpeg_is_stored_upright(project, owner):
    data = corpus.exif_rotated_jpeg()
    [image] = upload(project, owner, [("sideways.jpg", data)]).created

    picture = stored_picture(image)
    assert (image.width, image.height) == picture.size == (30, 60)
    assert picture.getexif().get(0x0112) is None  # no orientation left to apply twice
    red, _, blue = picture.getpixel((15, 10))
    assert red > 200 and blue < 60
    red, _, blue = picture.getpixel((15, 50))
    assert blue > 200 and red < 60
    # The sha256 is the uploaded file's, so uploading it again is a duplicate.
    assert image.sha256 == hashlib.sha256(data).hexdigest()


def test_a_cmyk_jpeg_is_stored_as_rgb(project, owner):
    [image] = upload(project, owner, [("print.jpg", corpus.cmyk_jpeg())]).created
    picture = stored_picture(image)
    assert (image.format, picture.format, picture.mode) == ("JPEG", "JPEG", "RGB")
    red, green, blue = picture.getpixel((5, 5))
    assert red > 200 and green < 60 and blue < 60


def test_a_16_bit_grayscale_png_is_scaled_to_8_bits(project, owner):
    samples = np.array([[0, 257 * 128, 65535]] * 3)
    [image] = upload(project, owner, [("scan.png", corpus.png_16bit_gray(samples))]).created
    picture = stored_picture(image)
    assert (picture.format, picture.mode) == ("PNG", "L")
    assert [picture.getpixel((x, 0)) for x in range(3)] == [0, 128, 255]


def test_a_16_bit_rgb_png_is_stored_with_8_bits_per_channel(project, owner):
    [image] = upload(project, owner, [("deep.png", corpus.png_16bit_rgb())]).created
    content = stored_bytes(image.file)
    assert content[24] == 8  # the IHDR bit depth
    picture = stored_picture(image)
    assert (picture.mode, picture.getpixel((0, 0))) == ("RGB", (255, 0, 0))


def test_an_animated_gif_keeps_its_first_frame(project, owner):
    [image] = upload(project, owner, [("blink.gif", corpus.animated_gif())]).created
    picture = stored_picture(image)
    assert image.format == picture.format == "PNG"
    assert getattr(picture, "n_frames", 1) == 1
    assert picture.convert("RGB").getpixel((10, 10)) == corpus.RED


def test_a_bmp_is_stored_as_png(project, owner):
    [image] = upload(project, owner, [("old.bmp", corpus.bmp())]).created
    picture = stored_picture(image)
    assert (image.format, picture.format, picture.size) == ("PNG", "PNG", (64, 48))
    assert image.file.name.endswith(".png")


def test_the_thumbnail_is_a_jpeg_with_the_configured_longest_side(project, owner, settings):
    settings.THUMBNAIL_SIZE = 100
    [image] = upload(project, owner, [("wide.jpg", corpus.jpeg(size=(400, 200)))]).created
    thumbnail = PILImage.open(io.BytesIO(stored_bytes(image.thumbnail)))
    assert (thumbnail.format, thumbnail.size) == ("JPEG", (100, 50))


def test_a_transparent_image_gets_a_white_thumbnail_background(project, owner):
    [image] = upload(project, owner, [("cutout.png", corpus.transparent_png())]).created
    thumbnail = PILImage.open(io.BytesIO(stored_bytes(image.thumbnail)))
    red, green, blue = thumbnail.getpixel((thumbnail.width - 1, 0))
    assert min(red, green, blue) > 240


def test_uploading_the_same_file_again_reports_the_original(project, owner, stored_files):
    data = corpus.jpeg()
    [first] = upload(project, owner, [("a.jpg", data)]).created
    report = upload(project, owner, [("a-again.jpg", data)])
    assert (report.created, report.duplicates) == ([], [("a-again.jpg", first)])
    assert stored_files() == expected_files(first)


def test_a_normalised_image_uploaded_again_is_still_a_duplicate(project, owner):
    data = corpus.exif_rotated_jpeg()
    [first] = upload(project, owner, [("a.jpg", data)]).created
    assert upload(project, owner, [("b.jpg", data)]).duplicates == [("b.jpg", first)]


def test_the_same_file_twice_in_one_upload_is_stored_once(project, owner, stored_files):
    data = corpus.png()
    report = upload(project, owner, [("a.png", data), ("copy of a.png", data)])
    [image] = report.created
    assert report.duplicates == [("copy of a.png", image)]
    assert stored_files() == expected_files(image)


def test_the_same_sha256_in_another_project_is_not_a_duplicate(project, owner):
    from tests.factories import ProjectFactory

    data = corpus.png()
    upload(project, owner, [("a.png", data)])
    other_project = ProjectFactory(created_by=owner)
    assert len(upload(other_project, owner, [("a.png", data)]).created) == 1


@pytest.mark.django_db(transaction=True)
def test_a_concurrent_upload_of_the_same_file_wins_cleanly(project, owner, stored_files):
    # The batched duplicate lookup for both files happens before the first is stored; while
    # the first is reported done, another upload stores the second file's bytes. Storing the
    # second then hits the unique constraint and must end as a duplicate, leaving no file.
    racing = corpus.png(seed=7)
    winner: list = []

    def concurrent_upload():
        try:
            winner.extend(upload(project, owner, [("elsewhere.png", racing)]).created)
        finally:
            connection.close()

    def on_progress(done):
        if done == 1:
            thread = threading.Thread(target=concurrent_upload)
            thread.start()
            thread.join()

    report = upload(
        project,
        owner,
        [("first.png", corpus.png(seed=6)), ("racing.png", racing)],
        on_progress=on_progress,
    )

    [created] = report.created
    assert report.duplicates == [("racing.png", winner[0])]
    assert Image.objects.filter(project=project).count() == 2
    assert stored_files() == sorted(expected_files(created) + expected_files(winner[0]))


def test_a_failed_row_insert_deletes_the_files_it_stored(project, owner, stored_files):
    def refuse(sender, instance, **kwargs):
        raise DatabaseError("the database went away")

    pre_save.connect(refuse, sender=Image)
    try:
        with pytest.raises(DatabaseError):
            upload(project, owner, [("a.png", corpus.png())])
    finally:
        pre_save.disconnect(refuse, sender=Image)
    assert stored_files() == []
    assert not Image.objects.exists()


def test_a_label_is_recorded_as_the_uploaders_annotation(project, owner):
    coffee = project.classes.get(name="coffee")
    [image] = upload(project, owner, [("cup.jpg", corpus.jpeg())], label=coffee).created
    assert (image.label, image.label_status) == (coffee, LabelStatus.LABELED)
    assert list(Annotation.objects.values_list("image", "user", "label_class")) == [
        (image.pk, owner.pk, coffee.pk)
    ]


def test_a_label_waits_for_consensus_when_more_annotations_are_required(project, owner):
    project.annotations_per_image = 2
    project.save()
    coffee = project.classes.get(name="coffee")
    [image] = upload(project, owner, [("cup.jpg", corpus.jpeg())], label=coffee).created
    image.refresh_from_db()
    assert (image.label, image.label_status) == (None, LabelStatus.UNLABELED)
    assert Annotation.objects.get(image=image).label_class == coffee


def test_a_label_of_another_project_is_refused(project, owner):
    from django.core.exceptions import ValidationError

    from tests.factories import ProjectFactory

    foreign = ProjectFactory().classes.first()
    with pytest.raises(ValidationError):
        upload(project, owner, [("cup.jpg", corpus.jpeg())], label=foreign)


def test_an_explicit_split_applies_to_every_file(project, owner):
    report = upload(
        project, owner, [(f"{n}.png", corpus.png(seed=n)) for n in range(5)], split=Split.TEST
    )
    assert {image.split for image in report.created} == {Split.TEST}


def test_automatic_splits_follow_the_project_ratios(project, owner):
    report = upload(project, owner, [(f"{n}.png", corpus.png(seed=n)) for n in range(10)])
    splits = [image.split for image in report.created]
    assert (splits.count("train"), splits.count("validation"), splits.count("test")) == (6, 2, 2)


def test_new_images_are_announced_after_commit(project, owner, django_capture_on_commit_callbacks):
    received = []

    def receiver(sender, project, image_ids, **kwargs):
        received.append((project.pk, image_ids))

    images_created.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            report = upload(
                project,
                owner,
                [
                    ("a.png", corpus.png(seed=1)),
                    ("bad.jpg", b"nope"),
                    ("b.png", corpus.png(seed=2)),
                ],
            )
        assert received == []  # nothing before the commit
        for callback in callbacks:
            callback()
    finally:
        images_created.disconnect(receiver)
    assert received == [(project.pk, [image.pk for image in report.created])]


def test_nothing_is_announced_when_nothing_was_stored(
    project, owner, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        upload(project, owner, [("bad.jpg", b"nope")])
    assert callbacks == []


def test_progress_is_reported_after_every_file(project, owner):
    done = []
    upload(
        project,
        owner,
        [("a.png", corpus.png(seed=1)), ("bad.jpg", b"x"), ("c.png", corpus.png(seed=1))],
        on_progress=done.append,
    )
    assert done == [1, 2, 3]
