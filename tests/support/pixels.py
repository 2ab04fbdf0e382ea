"""Pictures made from pixel arrays, for the ML tests: encoded files and noisy colour images
(the tiny backbone and the heads tell such colours apart)."""

import io

import numpy as np
from PIL import Image


def encode(pixels: np.ndarray, format: str = "PNG", **params) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=format, **params)
    return buffer.getvalue()


def noisy_colour_images(rgb: tuple[int, int, int], count: int, *, seed: int, size: int = 40):
    """`count` PNGs of size x size pixels around colour `rgb`, with per-pixel noise."""
    rng = np.random.default_rng(seed)
    base = np.array(rgb, dtype=np.int16)
    images = []
    for _ in range(count):
        noise = rng.integers(-60, 61, size=(size, size, 3))
        images.append(encode(np.clip(base + noise, 0, 255).astype(np.uint8)))
    return images


def batch_sizes_recorded(backbone, monkeypatch) -> list[int]:
    """A list that fills with the size of every batch `backbone` runs from now on."""
    sizes: list[int] = []
    run_batch = backbone._run_batch

    def run_batch_recording_its_size(fn, pixels):
        sizes.append(len(pixels))
        return run_batch(fn, pixels)

    monkeypatch.setattr(backbone, "_run_batch", run_batch_recording_its_size)
    return sizes
