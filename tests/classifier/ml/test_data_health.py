"""classifier.ml.data_health: confident learning, near-duplicate pairs and groups, the
picture measures. Plain numpy, no Django."""

import numpy as np
import pytest
from PIL import Image, ImageFilter

from classifier.ml.data_health import (
    duplicate_groups,
    hash_distances,
    label_issues,
    near_duplicate_pairs,
    near_duplicates,
    per_class_thresholds,
    quality_measures,
    quality_problems,
)


def test_thresholds_are_the_mean_self_confidence_of_each_class():
    probabilities = np.array([[0.9, 0.1], [0.7, 0.3], [0.2, 0.8]])
    labels = np.array([0, 0, 1])

    assert per_class_thresholds(probabilities, labels) == pytest.approx([0.8, 0.8])


def test_a_row_confidently_of_another_class_is_a_suspected_label_error():
    probabilities = np.array(
        [[0.9, 0.1], [0.8, 0.2], [0.85, 0.15], [0.1, 0.9], [0.2, 0.8], [0.95, 0.05]]
    )
    labels = np.array([0, 0, 0, 1, 1, 1])  # the last row looks like class 0

    issues = label_issues(probabilities, labels)

    assert [(issue.row, issue.given, issue.suggested) for issue in issues] == [(5, 1, 0)]
    assert issues[0].self_confidence == pytest.approx(0.05)
    assert issues[0].score == pytest.approx(0.95)


def test_an_unsure_row_is_not_a_suspect():
    # 0.55 for class 0 is under class 0's threshold: the model is not confident either way.
    probabilities = np.array([[0.9, 0.1], [0.95, 0.05], [0.1, 0.9], [0.55, 0.45]])
    labels = np.array([0, 0, 1, 1])

    assert label_issues(probabilities, labels) == []


def test_suspects_are_ranked_least_self_confident_first():
    probabilities = np.array(
        [[0.9, 0.1], [0.9, 0.1], [0.1, 0.9], [0.1, 0.9], [0.92, 0.08], [0.99, 0.01]]
    )
    labels = np.array([0, 0, 1, 1, 1, 1])

    assert [issue.row for issue in label_issues(probabilities, labels)] == [5, 4]


def test_near_duplicate_pairs_are_the_pairs_above_the_similarity():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 32)).astype(np.float32)
    x[10] = x[3] * 2 + rng.normal(scale=0.01, size=32)  # same direction: a near-duplicate
    x[40] = x[3] + rng.normal(scale=0.02, size=32)

    pairs = near_duplicate_pairs(x, threshold=0.95, block_rows=7)

    assert [(i, j) for i, j, _ in pairs] == [(3, 10), (3, 40), (10, 40)]
    assert all(similarity > 0.95 for _, _, similarity in pairs)


def test_blocks_do_not_change_the_pairs():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 8)).astype(np.float32)

    assert near_duplicate_pairs(x, threshold=0.8, block_rows=5) == near_duplicate_pairs(
        x, threshold=0.8, block_rows=1000
    )


def test_rows_of_zeros_never_pair():
    assert near_duplicate_pairs(np.zeros((3, 4)), threshold=0.0) == []


def test_groups_are_the_connected_pairs():
    pairs = [(0, 4, 0.99), (4, 7, 0.95), (2, 3, 0.97)]

    assert duplicate_groups(8, pairs) == [[0, 4, 7], [2, 3]]


def _photo_like(size=(200, 150), seed=0) -> Image.Image:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def test_a_detailed_picture_has_no_problem():
    picture = _photo_like()

    assert quality_problems(quality_measures(picture, width=1200, height=900)) == []


def test_a_flat_picture_is_blank():
    picture = Image.new("RGB", (200, 150), (250, 250, 250))

    assert quality_problems(quality_measures(picture, width=1200, height=900)) == ["blank"]


def test_a_nearly_flat_picture_is_nearly_uniform():
    rng = np.random.default_rng(0)
    pixels = np.clip(128 + rng.normal(scale=4, size=(150, 200)), 0, 255).astype(np.uint8)
    picture = Image.fromarray(pixels)

    assert quality_problems(quality_measures(picture, width=1200, height=900)) == ["nearly uniform"]


def test_a_heavily_blurred_picture_is_very_blurry():
    # Large shapes (a photo's content) blurred away: contrast stays, edges go.
    rng = np.random.default_rng(0)
    blocks = rng.integers(0, 256, size=(6, 8), dtype=np.uint8)
    picture = Image.fromarray(np.kron(blocks, np.ones((25, 25), dtype=np.uint8)))
    sharp = quality_measures(picture, width=200, height=150)
    blurred = quality_measures(picture.filter(ImageFilter.GaussianBlur(6)), width=200, height=150)

    assert quality_problems(sharp) == []
    assert quality_problems(blurred) == ["very blurry"]


def test_a_small_picture_is_tiny():
    assert quality_problems(quality_measures(_photo_like(), width=48, height=300)) == ["tiny"]


def test_hash_distances_count_the_mirror_image_as_the_same_picture():
    hashes = np.array([0b1011, 0xFFFF0000, 0b1010], dtype=np.uint64)
    mirrored = np.array([0xFFFF0000, 0b1011, 0b0101], dtype=np.uint64)

    found = hash_distances(hashes, mirrored, max_distance=1, block_rows=2)

    # 0 and 1 are each other's mirror image; 0 and 2 differ in one bit.
    assert found == {(0, 1): 0, (0, 2): 1}


def test_a_half_size_copy_is_found_by_its_hash_alone():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 8))
    x[2] = x[0] + rng.normal(scale=1.5, size=8)  # blurred: the embeddings drifted apart
    hashes = np.array([0xAAAA, 0x5555_0000_0000, 0xAAAB], dtype=np.uint64)

    assert [(i, j) for i, j, _ in near_duplicates(x, hashes, hashes)] == [(0, 2)]
    assert near_duplicates(x) == []
