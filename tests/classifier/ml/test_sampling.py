"""The sampling strategies' arithmetic (classifier.ml.sampling): plain numpy, no Django."""

import numpy as np
import pytest

from classifier.ml import sampling


def test_least_confidence_puts_the_lowest_top_probability_first():
    probabilities = np.array([[0.9, 0.1], [0.55, 0.45], [0.7, 0.3]])

    assert list(sampling.uncertainty_order(probabilities, "least_confidence")) == [1, 2, 0]


def test_with_two_classes_the_three_uncertainty_measures_agree():
    probabilities = np.random.default_rng(1).dirichlet([1, 1], size=50)

    orders = [sampling.uncertainty_order(probabilities, m) for m in sampling.UNCERTAINTY_MEASURES]

    assert all((order == orders[0]).all() for order in orders)


def test_margin_and_entropy_part_from_least_confidence_with_three_classes():
    # Same top probability; the first is torn between two classes, the second spreads out.
    torn, spread = [0.45, 0.44, 0.11], [0.45, 0.275, 0.275]
    probabilities = np.array([spread, torn])

    assert list(sampling.uncertainty_order(probabilities, "margin")) == [1, 0]
    assert list(sampling.uncertainty_order(probabilities, "entropy")) == [0, 1]


def test_equal_scores_keep_the_input_order():
    probabilities = np.array([[0.6, 0.4]] * 4)

    assert list(sampling.uncertainty_order(probabilities, "margin")) == [0, 1, 2, 3]


def test_an_unknown_measure_is_refused():
    with pytest.raises(ValueError, match="unknown measure"):
        sampling.uncertainty_scores(np.ones((1, 2)) / 2, "vibes")


def test_k_center_greedy_skips_near_duplicates_of_what_it_picked():
    # Two tight clusters of near-identical points and one far point.
    rng = np.random.default_rng(0)
    cluster_a = rng.normal(0, 0.01, size=(10, 8))
    cluster_b = rng.normal(5, 0.01, size=(10, 8))
    far = np.full((1, 8), -9.0)
    candidates = np.vstack([cluster_a, cluster_b, far])

    picked = sampling.k_center_greedy(candidates, None, 3)

    groups = {"a" if p < 10 else "b" if p < 20 else "far" for p in picked}
    assert groups == {"a", "b", "far"}


def test_k_center_greedy_starts_away_from_the_labeled_images():
    near_labeled, far_away = np.zeros((1, 4)), np.full((1, 4), 3.0)
    candidates = np.vstack([near_labeled + 0.01, far_away])

    picked = sampling.k_center_greedy(candidates, np.zeros((5, 4)), 1)

    assert list(picked) == [1]


def test_k_center_greedy_never_picks_an_image_twice_even_among_exact_copies():
    candidates = np.ones((5, 3))

    picked = sampling.k_center_greedy(candidates, np.ones((1, 3)), 5)

    assert sorted(picked) == [0, 1, 2, 3, 4]


def test_the_class_balanced_mix_starts_with_the_class_with_fewer_labels_and_alternates():
    predicted = np.array([0, 0, 0, 1, 1])
    scores = np.array([0.1, 0.3, 0.2, 0.05, 0.4])

    order = sampling.class_balanced_order(predicted, scores, labeled_per_class=[10, 2])

    # class 1 first (2 labels), each class most uncertain first, then class 0's rest
    assert list(order) == [4, 1, 3, 2, 0]


def test_the_random_order_is_a_permutation_repeatable_by_seed():
    first = sampling.random_order(20, seed=7)

    assert sorted(first) == list(range(20))
    assert (first == sampling.random_order(20, seed=7)).all()
    assert not (first == sampling.random_order(20, seed=8)).all()


def test_the_warm_start_is_over_at_its_labels_per_class_on_average():
    assert not sampling.warm_start_is_over(29, 2, labels_per_class=15)
    assert sampling.warm_start_is_over(30, 2, labels_per_class=15)
    assert not sampling.warm_start_is_over(44, 3, labels_per_class=15)


def test_a_model_without_classes_never_ends_the_warm_start():
    assert not sampling.warm_start_is_over(100, 0)
