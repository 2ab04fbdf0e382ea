"""The training settings a user may choose: defaults, ranges and validation, in one place.

Plain Python (no TensorFlow, no Django), so the web side reads it too: the training service
validates a request with `Hyperparameters.from_overrides` (and turns its ValueError into a
form error), the API and the retrain command list `NAMES`, the admin's fine-tuning action
uses `FINE_TUNE_DEFAULT_BLOCKS`, and `head.train_head` / `fine_tuning.fine_tune` take their
defaults from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields

# Settings of the write-up this platform grew from (Adam 1e-4, 5 epochs) leave a fresh head at
# about 0.84 on the coffee photos; 1e-3 with early stopping reaches 0.97-0.98. Chosen by
# measurement on the coffee-or-not photos (150/50/50 per class, efficientnet_lite0 embeddings,
# 12 different random selections): with Adam at 1e-3 and batch 32 the validation loss bottoms
# out between epochs 29 and 120 (10 steps each) in 10 of 12, still creeps down at 200 in 2 with
# validation accuracy long flat; test accuracy 0.95-0.99, mean 0.974. A cap of 200 epochs
# bounds the cost (about 60 ms an epoch on a busy 2-core machine), and a patience of 15 rides
# out the noise of a 100-image validation set. Standardising or L2-normalising the embeddings,
# or adding mirrored training photos, changed nothing measurable.
DEFAULT_LEARNING_RATE = 1e-3
DEFAULT_BATCH_SIZE = 32
DEFAULT_MAX_EPOCHS = 200
DEFAULT_PATIENCE = 15

# The slower mode (classifier.ml.fine_tuning) trains the top blocks of efficientnet_lite0 (16
# blocks) together with the head, with settings of its own: a small learning rate, fewer
# epochs, less patience. Off by default (fine_tune_blocks=0): on a few hundred photos it costs
# 20x the time for no better accuracy (classifier/ml/README.md); the admin's action and
# `fine_tune` default to the top two blocks.
FINE_TUNABLE_BACKBONE = "efficientnet_lite0"
FINE_TUNE_MAX_BLOCKS = 15
FINE_TUNE_DEFAULT_BLOCKS = 2
FINE_TUNE_LEARNING_RATE = 1e-4
FINE_TUNE_MAX_EPOCHS = 30
FINE_TUNE_PATIENCE = 5

# The head trained on the embeddings. "logistic" (classifier.ml.logistic: an L2-regularised
# logistic regression, C chosen on validation) is the default: on the coffee-or-not photos it
# is 0.5-0.9 points more accurate than the Keras head on every backbone and fits in tens of
# milliseconds instead of seconds (classifier/ml/README.md, bench/model_selection.py). "keras"
# is the older Adam + early stopping head, which the epoch settings above are for.
HEAD_LOGISTIC = "logistic"
HEAD_KERAS = "keras"
HEADS = (HEAD_LOGISTIC, HEAD_KERAS)
DEFAULT_HEAD = HEAD_LOGISTIC

# The backbones classifier.ml ships (classifier.ml.backbones registers them; listed here
# without TensorFlow so the web side can check a project's choice). EfficientNet-Lite2 is the
# default (settings.CLASSIFIER_BACKBONE): the only one whose mean test accuracy over 50
# coffee-or-not splits reaches 0.985 with the logistic head, at the same worker memory.
BACKBONES = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2", "mobilenet_v2")

# Bounds a worker can honour: numpy's seeds are 32-bit, and a batch or an epoch count past
# these would only exhaust memory or the job's time limit. Checked in this order.
RANGES: dict[str, tuple[int, int]] = {
    "batch_size": (1, 4096),
    "max_epochs": (1, 10_000),
    "patience": (0, 10_000),
    "seed": (0, 2**32 - 1),
    "fine_tune_blocks": (0, FINE_TUNE_MAX_BLOCKS),
}


@dataclass(frozen=True)
class Hyperparameters:
    """One training run's settings. Build it with `from_overrides` to have them checked."""

    learning_rate: float = DEFAULT_LEARNING_RATE
    batch_size: int = DEFAULT_BATCH_SIZE
    max_epochs: int = DEFAULT_MAX_EPOCHS
    patience: int = DEFAULT_PATIENCE
    seed: int = 0
    # N > 0: the slower mode, which also trains the backbone's top N blocks.
    fine_tune_blocks: int = 0
    # Which head: one of HEADS (fine_tune_blocks > 0 trains a head of its own).
    head: str = DEFAULT_HEAD

    @classmethod
    def from_overrides(
        cls, overrides: Mapping | None = None, *, backbone: str | None = None
    ) -> Hyperparameters:
        """The defaults with `overrides` applied, converted (int, float) and checked.

        ValueError, with a message fit for the user, on an unknown name, a value that is not
        a number, one out of RANGES, a learning rate outside (0, 1), or fine-tuning asked of
        a `backbone` that cannot be fine-tuned (not checked when `backbone` is None).
        """
        given = dict(overrides or {})
        unknown = set(given) - set(NAMES)
        if unknown:
            raise ValueError(f"Unknown hyperparameter(s): {', '.join(sorted(unknown))}.")
        merged = {**asdict(cls()), **given}
        converters = {"float": float, "int": int, "str": str}
        try:
            merged = {
                field.name: converters[str(field.type)](merged[field.name]) for field in fields(cls)
            }
        except (TypeError, ValueError) as exc:
            raise ValueError(f"Invalid hyperparameter: {exc}") from exc
        if merged["head"] not in HEADS:
            raise ValueError(f"head must be one of: {', '.join(HEADS)}.")
        for key, (low, high) in RANGES.items():
            if not low <= merged[key] <= high:
                raise ValueError(f"{key} must be between {low} and {high}.")
        if not 0 < merged["learning_rate"] < 1:
            raise ValueError("learning_rate must be in (0, 1).")
        if merged["fine_tune_blocks"] and backbone not in (None, FINE_TUNABLE_BACKBONE):
            raise ValueError(
                f"Fine-tuning needs the {FINE_TUNABLE_BACKBONE} backbone; this platform uses "
                f"{backbone}."
            )
        return cls(**merged)

    def as_dict(self) -> dict:
        return asdict(self)


NAMES: tuple[str, ...] = tuple(field.name for field in fields(Hyperparameters))
