"""Near copies at upload: the automatic split puts a new image in the split of an image it is a
copy of (mirrored, resized, re-encoded), so uploads do not create split leaks.

Each stored image keeps a 64-bit difference hash of its picture and of its mirror image
(`Image.visual_hash`, `visual_hash_mirrored`, 16 hex digits). dHash: the picture shrunk to
9x8 grey pixels, one bit per pair of horizontal neighbours (is the left one brighter?). It is
written here, a few lines of Pillow, rather than taken from ImageHash (which the workers use
for pHash): ImageHash requires scipy, and the web process stays without it, and without numpy
too (15 MB; the web's memory goal is 150 MB): plain Python ints, int.bit_count to compare.
A lookup is one XOR and popcount per stored image: about 10 ms per upload in a 100,000-image
project.
Resizing and re-encoding move a dHash by 0-4 bits; different photos sit ~32 bits apart. The
workers' health check finds the copies this misses (crops) and the leaks they make.
"""

from __future__ import annotations

from PIL import Image as PILImage
from PIL import ImageOps

from labeling.models import Image, Project

# Bits (of 64) two hashes may differ in for the pictures to count as copies at upload.
COPY_HASH_DISTANCE = 4


def _difference_hash(picture: PILImage.Image) -> int:
    small = picture.convert("L").resize((9, 8), PILImage.Resampling.LANCZOS)
    pixels = list(small.tobytes())  # 8-bit grey: one byte a pixel
    value = 0
    for row in range(8):
        for column in range(8):
            left, right = pixels[row * 9 + column], pixels[row * 9 + column + 1]
            value = (value << 1) | (left > right)
    return value


def visual_hashes(picture: PILImage.Image) -> tuple[str, str]:
    """(dHash of the picture, dHash of its mirror image), 16 hex digits each."""
    return (
        f"{_difference_hash(picture):016x}",
        f"{_difference_hash(ImageOps.mirror(picture)):016x}",
    )


class NearCopyIndex:
    """The project's images' hashes and splits, read once per upload, extended as it stores."""

    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        self._plain = [int(plain, 16) for plain, _, _ in rows]
        self._splits = [split for _, _, split in rows]

    @classmethod
    def for_project(cls, *, project: Project) -> NearCopyIndex:
        rows = list(
            Image.objects.filter(project=project)
            .exclude(visual_hash="")
            .order_by("pk")
            .values_list("visual_hash", "visual_hash_mirrored", "split")
        )
        return cls(rows)

    def split_of_copy(self, visual_hash: str, visual_hash_mirrored: str) -> str | None:
        """The split of the closest stored picture within COPY_HASH_DISTANCE bits of the new
        one (or of its mirror image), else None."""
        plain, mirrored = int(visual_hash, 16), int(visual_hash_mirrored, 16)
        best, best_split = COPY_HASH_DISTANCE + 1, None
        for stored, split in zip(self._plain, self._splits, strict=True):
            distance = min((stored ^ plain).bit_count(), (stored ^ mirrored).bit_count())
            if distance < best:
                best, best_split = distance, split
        return best_split

    def add(self, visual_hash: str, split: str) -> None:
        self._plain.append(int(visual_hash, 16))
        self._splits.append(split)
