import io
import os

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(scope="session")
def weights_dir(tmp_path_factory):
    """Where backbones cache their weights: converted once per test session (or reused from
    CLASSIFIER_WEIGHTS_DIR, to skip even that)."""
    configured = os.environ.get("CLASSIFIER_WEIGHTS_DIR")
    return configured if configured else str(tmp_path_factory.mktemp("weights"))


@pytest.fixture(scope="session")
def efficientnet(weights_dir):
    from classifier.ml import load_backbone

    return load_backbone("efficientnet_lite0", weights_dir=weights_dir)


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    from classifier.ml import load_backbone

    return load_backbone("tiny", weights_dir=str(tmp_path_factory.mktemp("tiny-weights")))


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
    monkeypatch.setattr(
        backbone,
        "_run_batch",
        lambda fn, pixels: sizes.append(len(pixels)) or run_batch(fn, pixels),
    )
    return sizes
