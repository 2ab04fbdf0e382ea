"""The trainable part: a softmax classifier ("head") on frozen backbone embeddings.

Training uses Keras (Adam, early stopping on validation loss, best weights restored). The
trained head is a plain (kernel, bias) pair, so prediction is a numpy matrix product and the
artifact is an `.npz` archive without pickles: a worker reading it from shared storage runs no
code from it.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from classifier.ml.hyperparameters import Hyperparameters

# The defaults and their reasons: classifier.ml.hyperparameters.
_DEFAULTS = Hyperparameters()

ARTIFACT_FORMAT = "classifier.ml/softmax-head/1"


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


@dataclass
class TrainedHead:
    """A trained softmax head: probabilities = softmax((embeddings @ kernel + bias) / T).

    T, the `temperature`, is 1 until one is fitted on held-out data (classifier.ml.calibration):
    it changes no prediction, only how confident each one says it is.
    """

    # What a head can do, asked by whoever predicts with one: this one predicts from the
    # backbone's embeddings (`predict_proba`), so a cache of embeddings serves it.
    reads_embeddings: ClassVar[bool] = True

    kernel: np.ndarray  # (embedding_dim, class_count) float32
    bias: np.ndarray  # (class_count,) float32
    history: dict[str, list[float]] = field(default_factory=dict)
    best_epoch: int = 0  # 1-based epoch whose weights were kept; 0 when unknown
    hyperparameters: dict = field(default_factory=dict)
    temperature: float = 1.0

    def __post_init__(self):
        self.kernel = np.asarray(self.kernel, dtype=np.float32)
        self.bias = np.asarray(self.bias, dtype=np.float32)
        self.temperature = float(self.temperature)
        if self.kernel.ndim != 2 or self.bias.shape != (self.kernel.shape[1],):
            raise ValueError("kernel must be (embedding_dim, classes) and bias (classes,)")
        if not self.temperature > 0:
            raise ValueError("temperature must be positive")

    @property
    def class_count(self) -> int:
        return int(self.kernel.shape[1])

    @property
    def embedding_dim(self) -> int:
        return int(self.kernel.shape[0])

    def logits(self, embeddings: np.ndarray) -> np.ndarray:
        """The raw outputs before the temperature and the softmax, float32 (n, class_count)."""
        embeddings = np.asarray(embeddings, dtype=np.float32)
        if embeddings.ndim != 2 or embeddings.shape[1] != self.embedding_dim:
            raise ValueError(
                f"expected embeddings of shape (n, {self.embedding_dim}), got {embeddings.shape}"
            )
        return embeddings @ self.kernel + self.bias

    def predict_proba(self, embeddings: np.ndarray) -> np.ndarray:
        """Class probabilities (calibrated by the temperature), float32 (n, class_count)."""
        return _softmax(self.logits(embeddings) / self.temperature).astype(np.float32)

    def predict_images(self, backbone, images: Sequence[bytes]) -> np.ndarray:
        """Probabilities for encoded images: `predict_proba(backbone.embed(images))`."""
        return self.predict_proba(backbone.embed(images))

    def to_bytes(self) -> bytes:
        """The artifact: an .npz archive (no pickles) of the weights and a JSON description."""
        meta = {
            "format": ARTIFACT_FORMAT,
            "history": self.history,
            "best_epoch": self.best_epoch,
            "hyperparameters": self.hyperparameters,
            "temperature": self.temperature,
        }
        buffer = io.BytesIO()
        np.savez(
            buffer,
            kernel=self.kernel,
            bias=self.bias,
            meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> TrainedHead:
        """Read an artifact written by `to_bytes`; ValueError when it is not one."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as archive:
                kernel, bias = archive["kernel"], archive["bias"]
                meta = json.loads(archive["meta"].tobytes().decode())
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
            raise ValueError(f"not a trained head artifact: {exc}") from exc
        if meta.get("format") != ARTIFACT_FORMAT:
            raise ValueError(f"unsupported head artifact format {meta.get('format')!r}")
        return cls(
            kernel=kernel,
            bias=bias,
            history=meta["history"],
            best_epoch=meta["best_epoch"],
            hyperparameters=meta["hyperparameters"],
            # Artifacts written before calibration existed: uncalibrated, as they were trained.
            temperature=meta.get("temperature", 1.0),
        )


def _check_labels(y: np.ndarray, num_classes: int, what: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{what} must be a 1-d array of integer class indices")
    if len(y) and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"{what} holds class indices outside 0..{num_classes - 1}")
    return y.astype(np.int32)


def train_head(
    *,
    train_x: np.ndarray,
    train_y: np.ndarray,
    val_x: np.ndarray,
    val_y: np.ndarray,
    num_classes: int,
    learning_rate: float = _DEFAULTS.learning_rate,
    batch_size: int = _DEFAULTS.batch_size,
    max_epochs: int = _DEFAULTS.max_epochs,
    patience: int = _DEFAULTS.patience,
    seed: int = _DEFAULTS.seed,
    on_epoch: Callable[[int, dict], None] | None = None,
) -> TrainedHead:
    """Train a softmax head on embeddings; keep the weights of the best validation loss.

    Stops when the validation loss has not improved for `patience` epochs, or after
    `max_epochs`. `on_epoch(epoch, logs)` runs after every epoch, with epoch counted from 1 and
    logs {"loss", "accuracy", "val_loss", "val_accuracy", "max_epochs"}. The same inputs and seed
    give the same head (seeded initialiser and shuffling, no global random state touched).
    Needs at least one training and one validation example.
    """
    # Imported here: TensorFlow loads only when a head is trained, not to predict with one.
    import keras

    from classifier.ml.fitting import fit

    train_x = np.asarray(train_x, dtype=np.float32)
    val_x = np.asarray(val_x, dtype=np.float32)
    train_y = _check_labels(train_y, num_classes, "train_y")
    val_y = _check_labels(val_y, num_classes, "val_y")
    if num_classes < 2:
        raise ValueError("a classifier needs at least two classes")
    if not len(train_x) or not len(val_x):
        raise ValueError("training needs at least one training and one validation example")
    if train_x.ndim != 2 or val_x.shape[1:] != train_x.shape[1:]:
        raise ValueError("train_x and val_x must be (n, embedding_dim) with the same width")
    if len(train_x) != len(train_y) or len(val_x) != len(val_y):
        raise ValueError("each x must have as many rows as its y")

    model = keras.Sequential(
        [
            keras.Input((train_x.shape[1],)),
            keras.layers.Dense(
                num_classes,
                activation="softmax",
                kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
            ),
        ]
    )
    fitted = fit(
        model,
        train_x=train_x,
        train_y=train_y,
        val_x=val_x,
        val_y=val_y,
        learning_rate=learning_rate,
        batch_size=batch_size,
        max_epochs=max_epochs,
        patience=patience,
        seed=seed,
        val_batch_size=1024,
        on_epoch=on_epoch,
    )
    dense = model.layers[-1]
    kernel, bias = (w.numpy() for w in dense.weights)
    return TrainedHead(
        kernel=kernel,
        bias=bias,
        history=fitted.history,
        best_epoch=fitted.best_epoch,
        hyperparameters={
            "learning_rate": learning_rate,
            "batch_size": batch_size,
            "max_epochs": max_epochs,
            "patience": patience,
            "seed": seed,
            "epochs_run": fitted.epochs_run,
        },
    )
