import math

import numpy as np
import pytest

from classifier.ml import evaluate


def test_metrics_of_a_hand_checked_example():
    # true:      a  a  a  b  b  c
    # predicted: a  a  b  b  a  c
    proba = np.array(
        [
            [0.9, 0.05, 0.05],
            [0.6, 0.3, 0.1],
            [0.2, 0.7, 0.1],
            [0.1, 0.8, 0.1],
            [0.5, 0.4, 0.1],
            [0.0, 0.0, 1.0],
        ]
    )
    result = evaluate(proba, np.array([0, 0, 0, 1, 1, 2]), ["a", "b", "c"])

    assert result["confusion_matrix"] == [[2, 1, 0], [1, 1, 0], [0, 0, 1]]
    assert result["accuracy"] == pytest.approx(4 / 6)
    expected_loss = -np.mean(np.log([0.9, 0.6, 0.2, 0.8, 0.4, 1.0]))
    assert result["loss"] == pytest.approx(expected_loss)
    assert result["per_class"]["a"] == pytest.approx(
        {"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3, "support": 3}
    )
    assert result["per_class"]["b"] == pytest.approx(
        {"precision": 1 / 2, "recall": 1 / 2, "f1": 1 / 2, "support": 2}
    )
    assert result["per_class"]["c"] == pytest.approx(
        {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1}
    )


def test_a_class_never_predicted_gets_zero_precision_not_nan():
    proba = np.array([[0.9, 0.1], [0.8, 0.2]])

    result = evaluate(proba, np.array([0, 1]), ["coffee", "other"])

    assert result["per_class"]["other"] == {
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
        "support": 1,
    }
    assert result["per_class"]["coffee"]["precision"] == pytest.approx(0.5)


def test_a_confident_mistake_gives_a_finite_loss():
    result = evaluate(np.array([[1.0, 0.0]]), np.array([1]), ["coffee", "other"])

    assert math.isfinite(result["loss"]) and result["loss"] > 10


def test_rejects_labels_outside_the_classes():
    with pytest.raises(ValueError, match="outside"):
        evaluate(np.array([[0.5, 0.5]]), np.array([2]), ["coffee", "other"])
