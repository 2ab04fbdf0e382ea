"""Turn encoded image files into the fixed-size RGB arrays the networks take."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError


class InvalidImageError(ValueError):
    """The bytes are not an image Pillow can decode."""


def decode_image(data: bytes, size: int) -> np.ndarray:
    """Decode `data` (JPEG, PNG, WebP, ...) into a uint8 array of shape (size, size, 3).

    The EXIF orientation is applied, so a phone photo is seen upright as its owner saw it;
    transparency is flattened onto white; the whole picture is resized to a square (not
    cropped), the same way at training and at prediction time, so nothing near an edge is lost.
    """
    try:
        with Image.open(io.BytesIO(data)) as opened:
            image: Image.Image = opened
            # JPEG only: decode at the smallest DCT scale still at least `size` on both sides,
            # several times faster for camera photos than decoding every pixel and then shrinking.
            image.draft("RGB", (size, size))
            image = ImageOps.exif_transpose(image)
            if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
                rgba = image.convert("RGBA")
                image = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                image.alpha_composite(rgba)
            image = image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
            return np.asarray(image, dtype=np.uint8)
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
    ) as exc:
        raise InvalidImageError(f"cannot decode image: {exc}") from exc
