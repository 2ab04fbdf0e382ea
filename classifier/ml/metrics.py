"""Evaluation of predicted probabilities against true labels, in plain numpy."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Probabilities are clipped before the log so one confident mistake gives a large, finite loss.
_EPSILON = 1e-7


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else 0.0


def evaluate(proba: np.ndarray, y_true: np.ndarray, class_names: Sequence[str]) -> dict:
    """Accuracy, cross-entropy loss, per-class precision/recall/F1/support, confusion matrix.

    `proba` is (n, classes), `y_true` holds class indices, `class_names[i]` names class i.
    In the confusion matrix rows are true classes and columns predicted ones. A precision,
    recall or F1 whose denominator is zero (a class never predicted, or absent) is 0.0.
    Everything returned is a plain Python number or list, ready for JSON.
    """
    proba = np.asarray(proba, dtype=np.float64)
    y_true = np.asarray(y_true, dtype=np.int64)
    k = len(class_names)
    if proba.ndim != 2 or proba.shape[1] != k:
        raise ValueError(f"proba must be (n, {k}), got {proba.shape}")
    if y_true.shape != (proba.shape[0],):
        raise ValueError("y_true must hold one class index per row of proba")
    if len(y_true) and (y_true.min() < 0 or y_true.max() >= k):
        raise ValueError(f"y_true holds class indices outside 0..{k - 1}")

    n = len(y_true)
    y_pred = proba.argmax(axis=1) if n else np.zeros(0, dtype=np.int64)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (y_true, y_pred), 1)
    true_proba = np.clip(proba[np.arange(n), y_true], _EPSILON, 1.0)

    per_class = {}
    for i, name in enumerate(class_names):
        hits = confusion[i, i]
        precision = _ratio(hits, confusion[:, i].sum())
        recall = _ratio(hits, confusion[i, :].sum())
        per_class[name] = {
            "precision": precision,
            "recall": recall,
            "f1": _ratio(2 * precision * recall, precision + recall),
            "support": int(confusion[i, :].sum()),
        }
    return {
        "accuracy": _ratio(np.trace(confusion), n),
        "loss": float(-np.log(true_proba).mean()) if n else 0.0,
        "per_class": per_class,
        "confusion_matrix": confusion.tolist(),
    }
