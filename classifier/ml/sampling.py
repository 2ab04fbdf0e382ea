"""Sampling strategies for active learning: which unlabeled images a person should label next.

Plain numpy, no TensorFlow, no Django: the prediction worker calls these over the active
version's probabilities and the cached embeddings (classifier.worker.labeling_queue) and
stores the orderings they return. Every function returns positions into its inputs, best
first, and breaks ties by position (the caller passes images oldest first), so an ordering is
the same on every run for the same inputs.

- Uncertainty (`uncertainty_order`): least confidence (lowest top probability), margin
  (smallest gap between the two most probable classes) and entropy (most spread-out
  probabilities). With two classes the three give the same order; they part with three or more.
- Diversity (`k_center_greedy`): the classic core-set choice (Sener and Savarese, 2018): each
  pick is the candidate farthest from everything labeled or picked so far, so a batch covers
  the embedding space instead of twenty near-identical photos of one mug.
- Class-balanced mix (`class_balanced_order`): round-robin over the predicted classes, the
  class with the fewest labels first, each class's own images least confident first, so a
  rare class is not starved while the model is still unsure of the common one.
- Warm start (`warm_start_is_over`): random until the model was trained on enough labels, least
  confidence after. A model trained on a few dozen labels is a poor judge of its own
  uncertainty, so its least-confident picks crowd one stretch of a wrong boundary, while
  random picks cover the classes; once it has seen WARM_START_LABELS_PER_CLASS train labels
  per class, its uncertainty is worth following (bench/active_learning.py measures both).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

UNCERTAINTY_MEASURES = ("least_confidence", "margin", "entropy")
# Train labels per class (on average over the classes) the active model must have been trained
# on before the warm start follows its uncertainty. In bench/active_learning.py (13 seeds) 40
# random labels, about 32 of them train, gave models of 0.95 mean test accuracy, while least
# confidence from 10 labels was at 0.85 there; switching at 25 per class was no better.
WARM_START_LABELS_PER_CLASS = 15


def uncertainty_scores(probabilities: np.ndarray, measure: str) -> np.ndarray:
    """One score per row of (n, classes) probabilities, higher = more uncertain:
    least_confidence 1 - top, margin 1 - (top - runner-up), entropy in bits."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim != 2:
        raise ValueError("probabilities must be a 2-D array (images x classes)")
    if measure not in UNCERTAINTY_MEASURES:
        raise ValueError(f"unknown measure {measure!r}; use one of {UNCERTAINTY_MEASURES}")
    if probabilities.shape[0] == 0:
        return np.zeros(0)
    if measure == "least_confidence":
        return 1.0 - probabilities.max(axis=1)
    if measure == "margin":
        if probabilities.shape[1] < 2:
            return np.zeros(probabilities.shape[0])
        top_two = np.sort(probabilities, axis=1)[:, -2:]
        return 1.0 - (top_two[:, 1] - top_two[:, 0])
    clipped = np.clip(probabilities, 1e-12, 1.0)
    return -(probabilities * np.log2(clipped)).sum(axis=1)


def uncertainty_order(probabilities: np.ndarray, measure: str) -> np.ndarray:
    """Positions of the rows, most uncertain first (ties: the earlier row first)."""
    scores = uncertainty_scores(probabilities, measure)
    # A stable sort of the negated scores keeps equal scores in input order.
    return np.argsort(-scores, kind="stable")


def k_center_greedy(
    candidates: np.ndarray, centers: np.ndarray | None, count: int, *, chunk: int = 4096
) -> np.ndarray:
    """Positions of `count` candidates chosen by k-center greedy, in the order picked.

    candidates: (n, d) embeddings of the unlabeled images; centers: (m, d) embeddings of the
    labeled ones (may be empty or None). Each pick is the candidate whose nearest center (a
    labeled image or an earlier pick) is farthest away, by Euclidean distance. Without
    centers the first pick is the candidate farthest from the candidates' mean. Costs
    O((n + m) * d) memory and O(n * (m + count) * d) time.
    """
    candidates = np.asarray(candidates, dtype=np.float32)
    n = candidates.shape[0]
    count = min(count, n)
    if count <= 0:
        return np.zeros(0, dtype=np.int64)
    squared_norms = np.einsum("ij,ij->i", candidates, candidates)
    if centers is not None and len(centers):
        nearest = np.full(n, np.inf, dtype=np.float32)
        centers = np.asarray(centers, dtype=np.float32)
        # In chunks of centers, so (n x chunk) distances at a time, never (n x m).
        for start in range(0, centers.shape[0], chunk):
            block = centers[start : start + chunk]
            distances = _squared_distances(candidates, squared_norms, block)
            nearest = np.minimum(nearest, distances.min(axis=1))
    else:
        mean = candidates.mean(axis=0, keepdims=True)
        nearest = _squared_distances(candidates, squared_norms, mean)[:, 0]
    picked = np.empty(count, dtype=np.int64)
    for step in range(count):
        choice = int(np.argmax(nearest))  # the first of equal maxima: the earlier candidate
        picked[step] = choice
        distances = _squared_distances(candidates, squared_norms, candidates[choice : choice + 1])
        nearest = np.minimum(nearest, distances[:, 0])
        nearest[choice] = -1.0  # never picked twice, even among exact duplicates
    return picked


def _squared_distances(x: np.ndarray, x_norms: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(len(x), len(y)) squared Euclidean distances, clipped at 0 against rounding."""
    y_norms = np.einsum("ij,ij->i", y, y)
    distances = x_norms[:, None] - 2.0 * (x @ y.T) + y_norms[None, :]
    return np.maximum(distances, 0.0)


def class_balanced_order(
    predicted: np.ndarray, scores: np.ndarray, labeled_per_class: Sequence[int]
) -> np.ndarray:
    """Positions of the rows, interleaving the predicted classes.

    predicted: each row's predicted class (0 .. len(labeled_per_class) - 1); scores: its
    uncertainty (higher first, see uncertainty_scores). Rows are grouped by predicted class,
    each group most uncertain first; the order then takes one row from each group in turn,
    the class with the fewest labels (`labeled_per_class`) first in every turn (ties: class
    order). A group that runs out drops out of the turns.
    """
    predicted = np.asarray(predicted, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    if predicted.shape != scores.shape:
        raise ValueError("predicted and scores need one value per row each")
    if len(predicted) == 0:
        return np.zeros(0, dtype=np.int64)
    if predicted.min() < 0 or predicted.max() >= len(labeled_per_class):
        raise ValueError("labeled_per_class needs a count for every predicted class")
    turns = sorted(range(len(labeled_per_class)), key=lambda c: (labeled_per_class[c], c))
    groups = []
    for label in turns:
        members = np.flatnonzero(predicted == label)
        if len(members):
            groups.append(members[np.argsort(-scores[members], kind="stable")])
    order = np.empty(len(predicted), dtype=np.int64)
    written = 0
    for turn in range(max(len(group) for group in groups)):
        for group in groups:
            if turn < len(group):
                order[written] = group[turn]
                written += 1
    return order


def random_order(n: int, *, seed: int) -> np.ndarray:
    """A random permutation of range(n), the same for the same seed."""
    return np.random.default_rng(seed).permutation(n)


def warm_start_is_over(
    train_labels: int, classes: int, *, labels_per_class: int = WARM_START_LABELS_PER_CLASS
) -> bool:
    """Whether a model trained on `train_labels` labels of `classes` classes has seen enough to
    be a fair judge of its own uncertainty: at least `labels_per_class` per class on average.

    On average, not in every class: a rare class would keep a per-class rule picking at
    random for thousands of labels, when following the model's doubt is the likelier way to
    find more of it.
    """
    return classes > 0 and train_labels >= labels_per_class * classes
