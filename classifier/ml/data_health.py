"""Data health over arrays: suspected label errors, near-duplicate pairs, low-quality images.

Plain numpy (and Pillow for the pixel measures); no TensorFlow, no Django. The worker's health
check (classifier.worker.health) feeds it the cached embeddings, the out-of-fold probabilities
(classifier.ml.logistic.out_of_fold_proba) and the thumbnails.

Label errors follow confident learning (Northcutt et al., "Confident Learning", JAIR 2021),
written here from the paper's definitions: class j's threshold t_j is the mean probability of
j over the rows labeled j (the model's average self-confidence for that class). A row is
"confidently" of class j when p_j >= t_j; a row confidently of some class other than its given
label (the most probable such class when there are several) is an off-diagonal entry of the
confident joint, that is a suspected label error. Suspects are ranked by self-confidence
(the out-of-fold probability of the given label), least sure first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

# Cosine similarity of two EfficientNet-Lite0 embeddings above which two photos are called
# near-duplicates. On the coffee-or-not photos (bench/data_health.py) mirrored, 90%-cropped
# and half-size re-encoded copies score 0.93-1.0, while the closest pairs of genuinely
# different photos stay under it (the bench prints both distributions).
NEAR_DUPLICATE_SIMILARITY = 0.92
# Rows compared at once when searching pairs: a block x n float32 similarity matrix
# (1024 x 100,000 = 400 MB at most).
PAIR_BLOCK_ROWS = 1024


# --------------------------------------------------------------------------------------
# Label errors
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelIssue:
    row: int  # index into the arrays given
    given: int  # the class index it is labeled with
    suggested: int  # the class the out-of-fold model is confident of instead
    self_confidence: float  # out-of-fold probability of the given label
    suggested_probability: float

    @property
    def score(self) -> float:
        """How sure the model is that the label is wrong: 1 - self-confidence, 0-1."""
        return 1.0 - self.self_confidence


def per_class_thresholds(pred_probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """t_j: the mean predicted probability of class j over the rows labeled j (1.0, i.e.
    never confident, for a class without rows)."""
    num_classes = pred_probs.shape[1]
    thresholds = np.ones(num_classes)
    for j in range(num_classes):
        rows = labels == j
        if rows.any():
            thresholds[j] = pred_probs[rows, j].mean()
    return thresholds


def label_issues(pred_probs: np.ndarray, labels: np.ndarray) -> list[LabelIssue]:
    """The rows whose given label the out-of-fold model finds unlikely, least sure first.

    `pred_probs` (n, classes) must come from models that did not see the row (out of fold);
    `labels` (n,) are the given class indices. A row is listed when it is confidently of a
    class other than its label (see the module docstring).
    """
    pred_probs = np.asarray(pred_probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if pred_probs.ndim != 2 or len(pred_probs) != len(labels):
        raise ValueError("pred_probs must be (n, classes) with one row per label")
    if not len(labels):
        return []
    thresholds = per_class_thresholds(pred_probs, labels)
    # Tiny tolerance: a probability equal to the mean should count as reaching it.
    confident = pred_probs >= thresholds - 1e-12
    masked = np.where(confident, pred_probs, -1.0)
    confident_class = masked.argmax(axis=1)
    has_confident = confident.any(axis=1)
    rows = np.flatnonzero(has_confident & (confident_class != labels))
    issues = [
        LabelIssue(
            row=int(row),
            given=int(labels[row]),
            suggested=int(confident_class[row]),
            self_confidence=float(pred_probs[row, labels[row]]),
            suggested_probability=float(pred_probs[row, confident_class[row]]),
        )
        for row in rows
    ]
    issues.sort(key=lambda issue: (issue.self_confidence, issue.row))
    return issues


# --------------------------------------------------------------------------------------
# Near-duplicates
# --------------------------------------------------------------------------------------


def near_duplicate_pairs(
    embeddings: np.ndarray,
    *,
    threshold: float = NEAR_DUPLICATE_SIMILARITY,
    block_rows: int = PAIR_BLOCK_ROWS,
) -> list[tuple[int, int, float]]:
    """Every pair (i, j, cosine similarity), i < j, whose similarity is at least `threshold`.

    Exact (all pairs are compared), in blocks of `block_rows` rows so memory stays at
    block_rows x n floats; the cost is n^2/2 dot products (bench/data_health.py measures it
    at 10,000 and 100,000 rows). Rows of zeros never pair.
    """
    x = np.asarray(embeddings, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError("embeddings must be (n, dim)")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    x = np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)
    # A row of zeros has no direction: give it a similarity no threshold reaches.
    empty = np.flatnonzero(norms[:, 0] == 0)
    pairs: list[tuple[int, int, float]] = []
    for start in range(0, len(x), block_rows):
        stop = min(start + block_rows, len(x))
        # Only columns after the block's first row: each pair is compared once or twice
        # (inside the block's own square), never n^2 times.
        similarities = x[start:stop] @ x[start:].T
        if len(empty):
            similarities[:, empty[empty >= start] - start] = -np.inf
            rows_empty = empty[(empty >= start) & (empty < stop)] - start
            similarities[rows_empty, :] = -np.inf
        rows, columns = np.nonzero(similarities >= threshold)
        for row, column in zip(rows.tolist(), columns.tolist(), strict=True):
            i, j = start + row, start + column
            if i < j:
                pairs.append((i, j, float(similarities[row, column])))
    return pairs


def duplicate_groups(count: int, pairs: Iterable[tuple[int, int, float]]) -> list[list[int]]:
    """The connected components (of two or more rows) of the pair graph, each sorted, the
    groups ordered by their first row. A copy of a copy lands in its original's group."""
    parent = list(range(count))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j, _ in pairs:
        ri, rj = root(i), root(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    members: dict[int, list[int]] = {}
    for i in range(count):
        members.setdefault(root(i), []).append(i)
    return sorted((group for group in members.values() if len(group) > 1), key=lambda g: g[0])


# --------------------------------------------------------------------------------------
# Low-quality images
# --------------------------------------------------------------------------------------

# The longest side pictures are measured at: the thumbnails' size, so every photo is judged
# at the same scale whatever its resolution.
QUALITY_MEASURE_SIZE = 256
# Standard deviation of the luminance (0-255) under which a picture is one flat colour
# ("blank") or nearly so ("nearly uniform": a lens cap, an overexposed sky).
BLANK_LUMINANCE_STD = 2.0
UNIFORM_LUMINANCE_STD = 8.0
# Variance of the Laplacian (4-neighbour, on 0-255 luminance at QUALITY_MEASURE_SIZE) under
# which a picture is "very blurry": sharp photos score hundreds to thousands, a 4-pixel
# Gaussian blur of the same photos tens (bench/data_health.py prints the spread).
BLURRY_LAPLACIAN_VARIANCE = 25.0
# Either side under this many pixels (of the stored original) is "tiny".
TINY_SIDE = 64


def luminance_array(picture) -> np.ndarray:
    """A Pillow image as float64 luminance (0-255), longest side QUALITY_MEASURE_SIZE at most."""
    gray = picture.convert("L")
    if max(gray.size) > QUALITY_MEASURE_SIZE:
        gray.thumbnail((QUALITY_MEASURE_SIZE, QUALITY_MEASURE_SIZE))
    return np.asarray(gray, dtype=np.float64)


def laplacian_variance(luminance: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian: how much fine detail (edges) a picture has."""
    if luminance.shape[0] < 3 or luminance.shape[1] < 3:
        return 0.0
    centre = luminance[1:-1, 1:-1]
    laplacian = (
        luminance[:-2, 1:-1]
        + luminance[2:, 1:-1]
        + luminance[1:-1, :-2]
        + luminance[1:-1, 2:]
        - 4 * centre
    )
    return float(laplacian.var())


def quality_measures(picture, *, width: int, height: int) -> dict[str, float | int]:
    """What quality_problems judges: {"luminance_std", "laplacian_variance", "width",
    "height"}; `picture` is the thumbnail (or the photo), width/height the original's."""
    luminance = luminance_array(picture)
    return {
        "luminance_std": round(float(luminance.std()), 3),
        "laplacian_variance": round(laplacian_variance(luminance), 3),
        "width": int(width),
        "height": int(height),
    }


def quality_problems(measures: dict) -> list[str]:
    """The reasons a picture is likely useless, most serious first: "blank", "nearly
    uniform" (not both), "very blurry" (not for a uniform one: no detail is expected), "tiny"."""
    problems = []
    if measures["luminance_std"] < BLANK_LUMINANCE_STD:
        problems.append("blank")
    elif measures["luminance_std"] < UNIFORM_LUMINANCE_STD:
        problems.append("nearly uniform")
    elif measures["laplacian_variance"] < BLURRY_LAPLACIAN_VARIANCE:
        problems.append("very blurry")
    if min(measures["width"], measures["height"]) < TINY_SIDE:
        problems.append("tiny")
    return problems
