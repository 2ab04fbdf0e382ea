"""The slower mode: fine-tune the top blocks of EfficientNet-Lite0 together with the head.

The frozen lower blocks run once per photo (`Backbone.features`, e.g. 7x7x192 activations
entering block 14); only the top blocks, the 1280-wide head convolution and the softmax head are
trained on those, so an epoch costs a fraction of a full forward and backward pass. BatchNorm
layers stay in inference mode with their ImageNet statistics (a few hundred photos are too few
to re-estimate them), the learning rate is small, and the softmax head starts from a linear head
trained first on the frozen embeddings, so fine-tuning starts where `train_head` ends.

The result, a FineTunedHead, carries its own copy of the top blocks (about 6 MB for two
blocks): predicting needs the shared backbone for the lower blocks and this for the rest.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from classifier.ml import hyperparameters
from classifier.ml.head import TrainedHead, _check_labels, _softmax, train_head

FORMAT = "classifier.ml/fine-tuned-head/1"


@dataclass
class FineTunedHead:
    """Fine-tuned top blocks plus a softmax head, applied on top of the frozen lower blocks."""

    # Its top blocks replace the backbone's: it predicts from the photos themselves
    # (`predict_images`), never from cached embeddings.
    reads_embeddings: ClassVar[bool] = False

    from_block: int
    top_weights: list[np.ndarray]  # the weights of efficientnet_lite.build_top(from_block)
    kernel: np.ndarray  # (1280, class_count)
    bias: np.ndarray
    backbone: str = "efficientnet_lite0"
    history: dict[str, list[float]] = field(default_factory=dict)
    best_epoch: int = 0
    hyperparameters: dict = field(default_factory=dict)
    _top: object = field(default=None, init=False, repr=False, compare=False)

    @property
    def class_count(self) -> int:
        return int(self.kernel.shape[1])

    def _top_function(self):
        if self._top is None:
            import tensorflow as tf

            from classifier.ml import efficientnet_lite

            model = efficientnet_lite.build_top(self.from_block)
            model.set_weights(self.top_weights)
            shape = efficientnet_lite.block_input_shape(self.from_block)
            self._top = tf.function(
                lambda x: model(x, training=False),
                input_signature=[tf.TensorSpec([None, *shape], tf.float32)],
            )
        return self._top

    def predict_proba(self, embeddings: np.ndarray) -> np.ndarray:
        """Not for this head (reads_embeddings is False): the backbone's embeddings come out of
        the blocks it replaces. Predict from the photos with `predict_images`."""
        raise TypeError("a fine-tuned head predicts from images, not from cached embeddings")

    def predict_features(self, features: np.ndarray) -> np.ndarray:
        """Probabilities from `backbone.features(images, before_block=self.from_block)`."""
        embeddings = self._top_function()(np.asarray(features, dtype=np.float32)).numpy()
        return _softmax(embeddings @ self.kernel + self.bias).astype(np.float32)

    def predict_images(self, backbone, images: Sequence[bytes]) -> np.ndarray:
        """Probabilities (n, class_count) for encoded images, through `backbone`'s lower blocks."""
        if backbone.name != self.backbone:
            raise ValueError(f"fine-tuned on {self.backbone}, not {backbone.name}")
        out = np.empty((len(images), self.class_count), dtype=np.float32)
        step = backbone.max_batch_size
        for start in range(0, len(images), step):
            chunk = images[start : start + step]
            features = backbone.features(chunk, before_block=self.from_block)
            out[start : start + len(chunk)] = self.predict_features(features)
        return out

    def to_bytes(self) -> bytes:
        meta = {
            "format": FORMAT,
            "backbone": self.backbone,
            "from_block": self.from_block,
            "history": self.history,
            "best_epoch": self.best_epoch,
            "hyperparameters": self.hyperparameters,
        }
        # Any: numpy's stub would read a key of **arrays as its allow_pickle flag.
        arrays: dict[str, Any] = {f"top_{i}": w for i, w in enumerate(self.top_weights)}
        buffer = io.BytesIO()
        np.savez(
            buffer,
            kernel=self.kernel,
            bias=self.bias,
            meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
            **arrays,
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> FineTunedHead:
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as archive:
                meta = json.loads(archive["meta"].tobytes().decode())
                count = sum(1 for name in archive.files if name.startswith("top_"))
                top_weights = [archive[f"top_{i}"] for i in range(count)]
                kernel, bias = archive["kernel"], archive["bias"]
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
            raise ValueError(f"not a fine-tuned head artifact: {exc}") from exc
        if meta.get("format") != FORMAT:
            raise ValueError(f"unsupported fine-tuned head format {meta.get('format')!r}")
        return cls(
            from_block=meta["from_block"],
            top_weights=top_weights,
            kernel=kernel,
            bias=bias,
            backbone=meta["backbone"],
            history=meta["history"],
            best_epoch=meta["best_epoch"],
            hyperparameters=meta["hyperparameters"],
        )


def fine_tune(
    backbone,
    *,
    train_images: Sequence[bytes],
    train_y: np.ndarray,
    val_images: Sequence[bytes],
    val_y: np.ndarray,
    num_classes: int,
    trainable_blocks: int = hyperparameters.FINE_TUNE_DEFAULT_BLOCKS,
    learning_rate: float = hyperparameters.FINE_TUNE_LEARNING_RATE,
    batch_size: int = hyperparameters.DEFAULT_BATCH_SIZE,
    max_epochs: int = hyperparameters.FINE_TUNE_MAX_EPOCHS,
    patience: int = hyperparameters.FINE_TUNE_PATIENCE,
    seed: int = 0,
    on_epoch: Callable[[int, dict], None] | None = None,
) -> FineTunedHead:
    """Fine-tune the top `trainable_blocks` blocks (of 16) of an efficientnet_lite0 backbone.

    First trains a linear head on the frozen embeddings (`train_head`), then trains the top
    blocks and that head together with Adam at a small learning rate, early stopping on the
    validation loss and keeping the best weights. `on_epoch(epoch, logs)` as for `train_head`,
    counting the fine-tuning epochs from 1. The shared backbone is not modified.
    """
    import keras

    from classifier.ml import efficientnet_lite
    from classifier.ml.fitting import fit

    if backbone.name != hyperparameters.FINE_TUNABLE_BACKBONE:
        raise ValueError(f"fine-tuning needs the {hyperparameters.FINE_TUNABLE_BACKBONE} backbone")
    if not 1 <= trainable_blocks < len(efficientnet_lite.BLOCKS):
        raise ValueError(f"trainable_blocks must be 1..{len(efficientnet_lite.BLOCKS) - 1}")
    train_y = _check_labels(train_y, num_classes, "train_y")
    val_y = _check_labels(val_y, num_classes, "val_y")
    from_block = len(efficientnet_lite.BLOCKS) - trainable_blocks

    train_features = backbone.features(train_images, before_block=from_block)
    val_features = backbone.features(val_images, before_block=from_block)

    top = efficientnet_lite.build_top(from_block)
    pretrained = backbone.embedding_model  # same layer names; copied, never trained in place
    for layer in top.layers:
        if layer.weights:
            layer.set_weights(pretrained.get_layer(layer.name).get_weights())
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False  # inference mode, ImageNet statistics kept

    # Stage 1: the linear head on the frozen embeddings, as train_head would give it.
    def embed(features):
        return np.concatenate(
            [top.predict_on_batch(features[i : i + 64]) for i in range(0, len(features), 64)]
        )

    linear = train_head(
        train_x=embed(train_features),
        train_y=train_y,
        val_x=embed(val_features),
        val_y=val_y,
        num_classes=num_classes,
        seed=seed,
    )

    # Stage 2: top blocks and head together.
    inputs = keras.Input(top.input.shape[1:], dtype="float32")
    x = top(inputs)
    x = keras.layers.Dropout(efficientnet_lite.DROPOUT_RATE, seed=seed)(x)
    dense = keras.layers.Dense(num_classes, activation="softmax")
    model = keras.Model(inputs, dense(x))
    dense.set_weights([linear.kernel, linear.bias])
    fitted = fit(
        model,
        train_x=train_features,
        train_y=train_y,
        val_x=val_features,
        val_y=val_y,
        learning_rate=learning_rate,
        batch_size=batch_size,
        max_epochs=max_epochs,
        patience=patience,
        seed=seed,
        val_batch_size=batch_size,
        on_epoch=on_epoch,
    )
    kernel, bias = (w.numpy() for w in dense.weights)
    return FineTunedHead(
        from_block=from_block,
        top_weights=top.get_weights(),
        kernel=kernel,
        bias=bias,
        backbone=backbone.name,
        history=fitted.history,
        best_epoch=fitted.best_epoch,
        hyperparameters={
            "mode": "fine_tune",
            "trainable_blocks": trainable_blocks,
            "learning_rate": learning_rate,
            "batch_size": batch_size,
            "max_epochs": max_epochs,
            "patience": patience,
            "seed": seed,
            "epochs_run": fitted.epochs_run,
            "linear_head_best_epoch": linear.best_epoch,
        },
    )


def load_head(data: bytes) -> TrainedHead | FineTunedHead:
    """Read either kind of head artifact, by the format recorded in it.

    Both kinds answer `predict_images(backbone, images)` and `class_count`, and say with
    `reads_embeddings` whether they also predict from cached embeddings (`predict_proba`).
    """
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            kind = json.loads(archive["meta"].tobytes().decode()).get("format")
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise ValueError(f"not a head artifact: {exc}") from exc
    if kind == FORMAT:
        return FineTunedHead.from_bytes(data)
    return TrainedHead.from_bytes(data)
