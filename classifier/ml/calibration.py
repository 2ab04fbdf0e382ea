"""Calibrated confidence: temperature scaling, expected calibration error, reliability diagram.

A head's softmax outputs are not probabilities anybody has checked: a head trained to zero
training loss says 0.999 about photos it gets wrong. Temperature scaling (Guo et al., 2017)
divides the logits by one scalar T fitted on held-out data (the validation split): it changes
no prediction, only how sure each one claims to be. The expected calibration error (ECE)
measures the gap between claimed confidence and accuracy: predictions are put into equal-width
bins by their confidence, and ECE is the mean over bins of |accuracy - mean confidence|,
weighted by the share of predictions in the bin.

Plain numpy over arrays; the temperature fit is a golden-section search on log T, which needs
no optimiser library and gives the same T for the same inputs.
"""

from __future__ import annotations

import math

import numpy as np

DEFAULT_BINS = 15
# T outside these bounds means the validation split says little (e.g. every validation photo
# right with a wide margin, where the loss keeps falling as T -> 0): the search stops at them.
MIN_TEMPERATURE = 0.05
MAX_TEMPERATURE = 20.0
_SEARCH_STEPS = 80  # the bracket shrinks by 0.618 per step: far below float precision at 80


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of logits / temperature, float64 (n, classes)."""
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    scaled -= scaled.max(axis=1, keepdims=True)
    exp = np.exp(scaled)
    return exp / exp.sum(axis=1, keepdims=True)


def _check(matrix: np.ndarray, y: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    matrix = np.asarray(matrix, dtype=np.float64)
    y = np.asarray(y)
    if matrix.ndim != 2 or matrix.shape[1] < 2:
        raise ValueError(f"{what} must be (n, classes) with at least two classes")
    if y.shape != (len(matrix),) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y must hold one integer class index per row of {what}")
    if len(y) and (y.min() < 0 or y.max() >= matrix.shape[1]):
        raise ValueError(f"y holds class indices outside 0..{matrix.shape[1] - 1}")
    return matrix, y.astype(np.int64)


def negative_log_likelihood(logits: np.ndarray, y: np.ndarray, temperature: float = 1.0) -> float:
    """Mean cross-entropy of the labels under softmax(logits / temperature)."""
    logits, y = _check(logits, y, "logits")
    scaled = logits / temperature
    top = scaled.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(scaled - top).sum(axis=1)) + top[:, 0]
    return float((log_norm - scaled[np.arange(len(y)), y]).mean())


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The T in [MIN_TEMPERATURE, MAX_TEMPERATURE] that minimises the validation NLL.

    `logits` are the head's raw outputs (before softmax) on the validation split, `y` its labels.
    The NLL is convex in 1/T, so it has one minimum on the bracket, found by golden-section
    search on log T. Without examples, returns 1.0 (no change).
    """
    logits, y = _check(logits, y, "logits")
    if not len(y):
        return 1.0

    def loss(log_t: float) -> float:
        return negative_log_likelihood(logits, y, math.exp(log_t))

    low, high = math.log(MIN_TEMPERATURE), math.log(MAX_TEMPERATURE)
    ratio = (math.sqrt(5) - 1) / 2
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    loss_a, loss_b = loss(a), loss(b)
    for _ in range(_SEARCH_STEPS):
        if loss_a <= loss_b:
            high, b, loss_b = b, a, loss_a
            a = high - ratio * (high - low)
            loss_a = loss(a)
        else:
            low, a, loss_a = a, b, loss_b
            b = low + ratio * (high - low)
            loss_b = loss(b)
    return float(math.exp((low + high) / 2))


def _bins(proba: np.ndarray, y: np.ndarray, bins: int):
    proba, y = _check(proba, y, "proba")
    if bins < 1:
        raise ValueError("bins must be at least 1")
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y
    # Bin i holds confidences in (i/bins, (i+1)/bins]; a confidence of exactly 0 goes to bin 0.
    index = np.clip(np.ceil(confidence * bins).astype(np.int64) - 1, 0, bins - 1)
    count = np.bincount(index, minlength=bins)
    confidence_sum = np.bincount(index, weights=confidence, minlength=bins)
    correct_sum = np.bincount(index, weights=correct.astype(np.float64), minlength=bins)
    return count, confidence_sum, correct_sum


def expected_calibration_error(proba: np.ndarray, y: np.ndarray, *, bins: int = DEFAULT_BINS):
    """ECE of top-label confidence over `bins` equal-width bins: 0 is perfectly calibrated.

    `proba` is (n, classes) probabilities, `y` the true class indices. 0.0 without examples.
    """
    count, confidence_sum, correct_sum = _bins(proba, y, bins)
    if not count.sum():
        return 0.0
    gaps = np.abs(correct_sum - confidence_sum)  # per bin: count * |accuracy - confidence|
    return float(gaps.sum() / count.sum())


def reliability_diagram(
    proba: np.ndarray, y: np.ndarray, *, bins: int = DEFAULT_BINS
) -> list[dict[str, float | int | None]]:
    """The data of a reliability diagram: one dict per bin, lowest confidence first.

    {"lower", "upper"}: the bin's confidence range (lower excluded, upper included);
    "count": predictions in it; "confidence": their mean confidence and "accuracy": the share
    of them that is right (both None for an empty bin). Plain Python numbers, ready for JSON.
    """
    count, confidence_sum, correct_sum = _bins(proba, y, bins)
    rows = []
    for i in range(bins):
        n = int(count[i])
        rows.append(
            {
                "lower": i / bins,
                "upper": (i + 1) / bins,
                "count": n,
                "confidence": float(confidence_sum[i] / n) if n else None,
                "accuracy": float(correct_sum[i] / n) if n else None,
            }
        )
    return rows


# The default "unsure" threshold keeps the precision of the predictions it lets through at or
# above this, for every class, on the test split.
DEFAULT_UNSURE_PRECISION = 0.99


def unsure_threshold(
    proba: np.ndarray, y: np.ndarray, *, precision: float = DEFAULT_UNSURE_PRECISION
) -> float:
    """The lowest confidence threshold at which every class's precision is at least `precision`.

    Predictions with a top-class confidence below the threshold are "unsure"; among the rest
    (confidence >= threshold), each predicted class must be right at least `precision` of the
    time on these labeled examples. Candidates are the observed confidences (and 0), lowest
    first, so the threshold is the one that leaves the fewest predictions unsure. When no
    candidate reaches the precision (a confident mistake at the top), returns 1.0: everything
    below certainty is unsure. 0.0 without examples.
    """
    proba, y = _check(proba, y, "proba")
    if not len(y):
        return 0.0
    confidence = proba.max(axis=1)
    predicted = proba.argmax(axis=1)
    correct = predicted == y
    order = np.argsort(-confidence, kind="stable")  # most confident first
    classes = proba.shape[1]
    # Kept sets grow from the most confident down: counts per predicted class after each row.
    kept_right = np.zeros(classes)
    kept_total = np.zeros(classes)
    best = 1.0
    index = 0
    while index < len(order):
        # All rows sharing a confidence are kept or not together.
        level = confidence[order[index]]
        while index < len(order) and confidence[order[index]] == level:
            row = order[index]
            kept_total[predicted[row]] += 1
            kept_right[predicted[row]] += correct[row]
            index += 1
        shown = kept_total > 0
        if np.all(kept_right[shown] >= precision * kept_total[shown]):
            # Every example kept: nothing needs to be unsure, as with a threshold of 0.
            best = 0.0 if index == len(order) else float(level)
    return best
