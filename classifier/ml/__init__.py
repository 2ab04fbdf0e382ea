"""The platform's only TensorFlow/Keras code: backbones, embedding, head training, evaluation.

Plain functions and classes over numpy arrays and bytes; nothing here imports Django or the rest
of the project. Importing this package is cheap and does not import TensorFlow: each name below
loads its module on first use, so the web side can read `classifier.ml.hyperparameters` (plain
Python: the training settings, their defaults and ranges) without loading TensorFlow. The rest
is used by worker processes only (classifier.worker).
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING

# Before TensorFlow is first imported: Keras on TensorFlow, and no INFO lines on stderr about
# CPU instructions for every worker that starts.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

_EXPORTS = {
    "Backbone": "classifier.ml.backbones",
    "BackboneUnavailableError": "classifier.ml.backbones",
    "Network": "classifier.ml.backbones",
    "backbone_names": "classifier.ml.backbones",
    "load_backbone": "classifier.ml.backbones",
    "register_backbone": "classifier.ml.backbones",
    "prepare_weights": "classifier.ml.backbones",
    "decode_image": "classifier.ml.images",
    "InvalidImageError": "classifier.ml.images",
    "TrainedHead": "classifier.ml.head",
    "train_head": "classifier.ml.head",
    "evaluate": "classifier.ml.metrics",
    "FineTunedHead": "classifier.ml.fine_tuning",
    "Hyperparameters": "classifier.ml.hyperparameters",
    "fine_tune": "classifier.ml.fine_tuning",
    "load_head": "classifier.ml.fine_tuning",
    "LogisticHeadFit": "classifier.ml.logistic",
    "train_logistic_head": "classifier.ml.logistic",
    "fit_logistic_regression": "classifier.ml.logistic",
    "out_of_fold_proba": "classifier.ml.logistic",
    "fit_temperature": "classifier.ml.calibration",
    "expected_calibration_error": "classifier.ml.calibration",
    "reliability_diagram": "classifier.ml.calibration",
    "mirror_averaged_embeddings": "classifier.ml.augmentation",
}

__all__ = [
    "Backbone",
    "BackboneUnavailableError",
    "FineTunedHead",
    "Hyperparameters",
    "InvalidImageError",
    "LogisticHeadFit",
    "Network",
    "TrainedHead",
    "backbone_names",
    "decode_image",
    "evaluate",
    "expected_calibration_error",
    "fine_tune",
    "fit_logistic_regression",
    "fit_temperature",
    "load_backbone",
    "load_head",
    "mirror_averaged_embeddings",
    "out_of_fold_proba",
    "prepare_weights",
    "register_backbone",
    "reliability_diagram",
    "train_head",
    "train_logistic_head",
]

if TYPE_CHECKING:
    from classifier.ml.augmentation import mirror_averaged_embeddings
    from classifier.ml.backbones import (
        Backbone,
        BackboneUnavailableError,
        Network,
        backbone_names,
        load_backbone,
        prepare_weights,
        register_backbone,
    )
    from classifier.ml.calibration import (
        expected_calibration_error,
        fit_temperature,
        reliability_diagram,
    )
    from classifier.ml.fine_tuning import FineTunedHead, fine_tune, load_head
    from classifier.ml.head import TrainedHead, train_head
    from classifier.ml.hyperparameters import Hyperparameters
    from classifier.ml.images import InvalidImageError, decode_image
    from classifier.ml.logistic import (
        LogisticHeadFit,
        fit_logistic_regression,
        out_of_fold_proba,
        train_logistic_head,
    )
    from classifier.ml.metrics import evaluate


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
