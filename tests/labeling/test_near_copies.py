"""The automatic split puts a copy of a stored picture (mirrored, resized, re-encoded) in that
picture's split, through the real ingest."""

import io

import numpy as np
import pytest
from PIL import Image as PILImage
from PIL import ImageOps

from labeling.ingest import IncomingFile, image_ingest
from labeling.models import Image, Split

pytestmark = pytest.mark.django_db


def photo_like(seed: int) -> PILImage.Image:
    """Shapes and gradients, as in a photo: smooth enough that a resize keeps its hash."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
    return PILImage.fromarray(np.kron(blocks, np.ones((40, 40, 1), dtype=np.uint8)))


def jpeg(picture: PILImage.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def ingest(project, owner, name: str, data: bytes, split: str = "auto") -> Image:
    report = image_ingest(
        project=project, uploaded_by=owner, files=[IncomingFile(name=name, file=io.BytesIO(data))],
        split=split,
    )  # fmt: skip
    [image] = report.created
    return image


@pytest.mark.parametrize(
    "copy",
    [
        lambda p: jpeg(ImageOps.mirror(p)),
        lambda p: jpeg(p.resize((p.width // 2, p.height // 2)), quality=60),
    ],
    ids=["mirrored", "half size at quality 60"],
)
def test_a_copy_goes_to_its_originals_split(project, owner, copy):
    picture = photo_like(1)
    original = ingest(project, owner, "original.jpg", jpeg(picture), split=Split.TEST)

    copied = ingest(project, owner, "copy.jpg", copy(picture))

    assert original.visual_hash
    assert copied.split == Split.TEST  # auto alone would have chosen train first


def test_a_different_picture_is_split_as_usual(project, owner):
    ingest(project, owner, "original.jpg", jpeg(photo_like(1)), split=Split.TEST)

    other = ingest(project, owner, "other.jpg", jpeg(photo_like(2)))

    assert other.split == Split.TRAIN
