"""The one fit loop of the package: a softmax classifier (a linear head, or fine-tuned top
blocks with their head) trained with Adam and early stopping on the validation loss.

Used by `head.train_head` and `fine_tuning.fine_tune`, so both report epochs, stop early and
record their history the same way. Imports TensorFlow: load it only to train.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

HISTORY_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")


@dataclass
class Fitted:
    """What a fit leaves besides the model's weights (restored to the best epoch's)."""

    history: dict[str, list[float]]  # HISTORY_KEYS -> one value per epoch run
    best_epoch: int  # 1-based epoch whose weights were kept

    @property
    def epochs_run(self) -> int:
        return len(self.history.get("loss", []))


def fit(
    model: keras.Model,
    *,
    train_x: np.ndarray,
    train_y: np.ndarray,
    val_x: np.ndarray,
    val_y: np.ndarray,
    learning_rate: float,
    batch_size: int,
    max_epochs: int,
    patience: int,
    seed: int,
    val_batch_size: int,
    on_epoch: Callable[[int, dict], None] | None = None,
) -> Fitted:
    """Compile `model` (Adam at `learning_rate`, sparse categorical cross-entropy, accuracy)
    and train it on (train_x, train_y), keeping the weights of the best validation loss.

    Stops when the validation loss has not improved for `patience` epochs, or after
    `max_epochs`. `on_epoch(epoch, logs)` runs after every epoch, with epoch counted from 1
    and logs {"loss", "accuracy", "val_loss", "val_accuracy", "max_epochs"}. Shuffling is
    seeded (a tf.data shuffle instead of fit(shuffle=True), which would need the process-wide
    random seed to be set), so the same inputs and seed give the same weights.
    """
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    train_data = (
        tf.data.Dataset.from_tensor_slices((train_x, train_y))
        .shuffle(len(train_x), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
    )
    # Validation as a ready-batched, cached dataset: passing arrays makes Keras rebuild an
    # adapter every epoch, which doubled the time per epoch of a linear head.
    val_data = tf.data.Dataset.from_tensor_slices((val_x, val_y)).batch(val_batch_size).cache()
    stopper = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=patience, restore_best_weights=True
    )
    callbacks: list = [stopper]
    if on_epoch is not None:

        def report(epoch, logs):
            values = {k: float(logs[k]) for k in HISTORY_KEYS if k in logs}
            on_epoch(epoch + 1, {**values, "max_epochs": max_epochs})

        callbacks.append(keras.callbacks.LambdaCallback(on_epoch_end=report))
    history = model.fit(
        train_data,
        validation_data=val_data,
        epochs=max_epochs,
        shuffle=False,  # the dataset shuffles itself, seeded
        callbacks=callbacks,
        verbose=0,
    ).history
    return Fitted(
        history={k: [float(v) for v in history.get(k, [])] for k in HISTORY_KEYS},
        best_epoch=int(stopper.best_epoch) + 1,
    )
