"""Test-time augmentation: an image's embedding averaged with its mirror image's.

A photo of a cup is a photo of a cup mirrored left to right, so the mean of the two embeddings
describes the photo with less of the network's left/right noise. The head must see the same
kind of embedding at training and at prediction time: a version trained on mirror-averaged
embeddings predicts from mirror-averaged embeddings too (and its embedding cache is separate
from the plain one). It costs a second forward pass per image; bench/model_selection.py
measures both what it costs and what it buys.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MIRROR_AVERAGED = "mirror"  # how a version's embeddings were made, beside "plain"
EMBEDDING_MODES = ("plain", MIRROR_AVERAGED)


def mirror(pixels: np.ndarray) -> np.ndarray:
    """Decoded images (n, height, width, 3) mirrored left to right."""
    return np.ascontiguousarray(pixels[:, :, ::-1, :])


def mirror_averaged_embeddings(backbone, images: Sequence[bytes]) -> np.ndarray:
    """The mean of each image's embedding and its mirror image's, float32 (n, embedding_dim).

    Each image is decoded once. The image and its mirror run in the same batch, and the batch
    holds at most `backbone.max_batch_size` pictures, so a worker's peak memory is the same as
    with `backbone.embed`; one image costs one batch of two. Raises
    classifier.ml.InvalidImageError when an image cannot be decoded.
    """
    out = np.empty((len(images), backbone.embedding_dim), dtype=np.float32)
    step = max(1, backbone.max_batch_size // 2)
    for start in range(0, len(images), step):
        pixels = backbone.decode(images[start : start + step])
        both = backbone.embed_pixels(np.concatenate([pixels, mirror(pixels)]))
        count = len(pixels)
        out[start : start + count] = (both[:count] + both[count:]) / 2
    return out


def embed(backbone, images: Sequence[bytes], *, mode: str = "plain") -> np.ndarray:
    """Embeddings of `images` as a head trained in `mode` ("plain" or "mirror") expects."""
    if mode == "plain":
        return backbone.embed(images)
    if mode == MIRROR_AVERAGED:
        return mirror_averaged_embeddings(backbone, images)
    raise ValueError(f"unknown embedding mode {mode!r}; known: {', '.join(EMBEDDING_MODES)}")
