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

# Two photos are near-duplicates when either signal says so (bench/data_health.py measures
# each on planted copies of the coffee-or-not photos and prints the sweep):
# - the cosine similarity of their embeddings is at least NEAR_DUPLICATE_SIMILARITY: mirrored
#   and cropped copies score 0.87-0.99, but a half-size copy of a 256-pixel photo, blurred by
#   the backbone's upscaling, can fall to 0.8, where different photos of the same kind of
#   cup also sit;
# - their perceptual hashes (ImageHash's pHash: the signs of the 8x8 lowest frequencies of a
#   32x32 DCT, which resizing and re-encoding barely move) differ in at most
#   HASH_DISTANCE_DUPLICATE of 64 bits, the mirror image's hash counting as the photo's own;
# - or, for a crop against a half-size copy (similarity 0.75-0.85, hashes 8-18 bits apart),
#   both signals agree: similarity at least SIMILARITY_WITH_HASH and hash distance at most
#   HASH_DISTANCE_WITH_SIMILARITY. Such pairs also meet through the original both copies
#   share; this rule keeps look-alike photos out while catching a copy whose original is
#   gone.
# Chosen on the planted copies of the coffee-or-not photos (the sweep is in bench/README.md):
# every copy lands in its original's group, and 4 pairs among the real photos are found,
# at least 2 of them duplicates within the data set itself (hash distance 0).
NEAR_DUPLICATE_SIMILARITY = 0.92
HASH_DISTANCE_DUPLICATE = 4
SIMILARITY_WITH_HASH = 0.88
HASH_DISTANCE_WITH_SIMILARITY = 16
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


def perceptual_hashes(picture) -> tuple[int, int]:
    """(pHash of the picture, pHash of its mirror image) as unsigned 64-bit integers.

    ImageHash (BSD-2-Clause, well kept) computes the hash; it imports scipy for the DCT,
    which workers load anyway (scikit-learn), so this runs in workers only.
    """
    import imagehash
    from PIL import ImageOps

    rgb = picture.convert("RGB")
    return (
        int(str(imagehash.phash(rgb)), 16),
        int(str(imagehash.phash(ImageOps.mirror(rgb))), 16),
    )


def hash_distances(
    hashes: np.ndarray, mirrored: np.ndarray, *, max_distance: int, block_rows: int = 256
) -> dict[tuple[int, int], int]:
    """{(i, j): bits that differ}, i < j, for the pairs whose hashes (or one's hash and the
    other's mirror image's) differ in at most `max_distance` of 64 bits. n^2/2 XORs and
    popcounts, in blocks of `block_rows` rows (256 x 100,000 x 8 bytes = 200 MB a block)."""
    h = np.asarray(hashes, dtype=np.uint64)
    m = np.asarray(mirrored, dtype=np.uint64)
    found: dict[tuple[int, int], int] = {}
    for start in range(0, len(h), block_rows):
        stop = min(start + block_rows, len(h))
        block = h[start:stop, None]
        distance = np.minimum(
            np.bitwise_count(block ^ h[None, start:]), np.bitwise_count(block ^ m[None, start:])
        )
        rows, columns = np.nonzero(distance <= max_distance)
        for row, column in zip(rows.tolist(), columns.tolist(), strict=True):
            i, j = start + row, start + column
            if i < j:
                found[(i, j)] = int(distance[row, column])
    return found


def near_duplicates(
    embeddings: np.ndarray, hashes: np.ndarray | None = None, mirrored: np.ndarray | None = None
) -> list[tuple[int, int, float]]:
    """The near-duplicate pairs (i, j, cosine similarity) by the rule above; without hashes,
    by the similarity alone."""
    candidates = near_duplicate_pairs(embeddings, threshold=SIMILARITY_WITH_HASH)
    if hashes is None or mirrored is None:
        return [pair for pair in candidates if pair[2] >= NEAR_DUPLICATE_SIMILARITY]
    distances = hash_distances(hashes, mirrored, max_distance=HASH_DISTANCE_WITH_SIMILARITY)
    similar = {(i, j): similarity for i, j, similarity in candidates}
    pairs = []
    for pair in sorted(
        set(similar) | {p for p, d in distances.items() if d <= HASH_DISTANCE_DUPLICATE}
    ):
        similarity = similar.get(pair)
        distance = distances.get(pair)
        if similarity is None:
            # Only the hashes matched: the similarity is still what the pages show.
            x = np.asarray(embeddings[list(pair)], dtype=np.float64)
            norms = np.linalg.norm(x, axis=1)
            similarity = float(x[0] @ x[1] / (norms[0] * norms[1])) if norms.all() else 0.0
        if (
            similarity >= NEAR_DUPLICATE_SIMILARITY
            or (distance is not None and distance <= HASH_DISTANCE_DUPLICATE)
            or (distance is not None and distance <= HASH_DISTANCE_WITH_SIMILARITY
                and similarity >= SIMILARITY_WITH_HASH)
        ):  # fmt: skip
            pairs.append((pair[0], pair[1], similarity))
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
