"""Temperature scaling, expected calibration error and the reliability diagram's data."""

import numpy as np
import pytest

from classifier.ml.calibration import (
    MIN_TEMPERATURE,
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    reliability_diagram,
    softmax,
)


def sampled(logits: np.ndarray, seed: int) -> np.ndarray:
    """Labels drawn from softmax(logits): data for which those logits are calibrated."""
    rng = np.random.default_rng(seed)
    proba = softmax(logits)
    return np.array([rng.choice(len(p), p=p) for p in proba])


@pytest.fixture(scope="module")
def calibrated():
    """3-class logits and labels drawn from them: softmax(logits) is calibrated."""
    logits = np.random.default_rng(1).normal(scale=2.0, size=(20_000, 3))
    return logits, sampled(logits, seed=2)


def test_recovers_the_temperature_of_overconfident_logits(calibrated):
    logits, y = calibrated

    assert fit_temperature(3.0 * logits, y) == pytest.approx(3.0, rel=0.05)
    assert fit_temperature(0.5 * logits, y) == pytest.approx(0.5, rel=0.05)


def test_the_fitted_temperature_minimises_the_loss(calibrated):
    logits, y = calibrated[0][:500] * 2, calibrated[1][:500]

    t = fit_temperature(logits, y)

    best = negative_log_likelihood(logits, y, t)
    assert best < negative_log_likelihood(logits, y, t * 1.05)
    assert best < negative_log_likelihood(logits, y, t / 1.05)
    assert fit_temperature(logits, y) == t  # deterministic


def test_a_validation_split_all_right_by_a_wide_margin_stops_at_the_lowest_temperature():
    logits = np.array([[5.0, -5.0], [-4.0, 4.0], [6.0, 0.0]])

    assert fit_temperature(logits, np.array([0, 1, 0])) == pytest.approx(MIN_TEMPERATURE, rel=1e-3)


def test_no_validation_examples_leave_the_logits_as_they_are():
    assert fit_temperature(np.zeros((0, 2)), np.zeros(0, dtype=int)) == 1.0


def test_ece_of_a_hand_computed_example():
    proba = np.array([[0.9, 0.1], [0.1, 0.9], [0.6, 0.4], [0.45, 0.55]])
    y = np.array([0, 0, 0, 0])
    # bin (0.8, 0.9]: two at 0.9, one right -> 2 * |0.5 - 0.9| = 0.8
    # bin (0.5, 0.6]: 0.6 right and 0.55 wrong -> 2 * |0.5 - 0.575| = 0.15
    assert expected_calibration_error(proba, y, bins=10) == pytest.approx((0.8 + 0.15) / 4)


def test_ece_is_near_zero_for_calibrated_and_large_for_overconfident_probabilities(calibrated):
    logits, y = calibrated

    assert expected_calibration_error(softmax(logits), y) < 0.015
    assert expected_calibration_error(softmax(4 * logits), y) > 0.1


def test_temperature_scaling_brings_the_ece_down(calibrated):
    logits, y = calibrated
    overconfident = 4 * logits
    validation, test = slice(0, 5_000), slice(5_000, None)

    t = fit_temperature(overconfident[validation], y[validation])

    before = expected_calibration_error(softmax(overconfident[test]), y[test])
    after = expected_calibration_error(softmax(overconfident[test], t), y[test])
    assert after < before / 5
    assert (softmax(overconfident, t).argmax(1) == overconfident.argmax(1)).all()


def test_reliability_diagram_bins_count_confidence_and_accuracy():
    proba = np.array([[0.9, 0.1], [0.1, 0.9], [0.6, 0.4], [0.45, 0.55], [1.0, 0.0]])
    y = np.array([0, 0, 0, 0, 0])

    rows = reliability_diagram(proba, y, bins=10)

    assert len(rows) == 10
    assert [(r["lower"], r["upper"]) for r in rows[:2]] == [(0.0, 0.1), (0.1, 0.2)]
    assert [r["count"] for r in rows] == [0, 0, 0, 0, 0, 2, 0, 0, 2, 1]
    assert rows[5]["confidence"] == pytest.approx(0.575) and rows[5]["accuracy"] == 0.5
    assert rows[8]["confidence"] == pytest.approx(0.9) and rows[8]["accuracy"] == 0.5
    assert rows[9] == {"lower": 0.9, "upper": 1.0, "count": 1, "confidence": 1.0, "accuracy": 1.0}
    assert rows[0]["confidence"] is None and rows[0]["accuracy"] is None


def test_the_diagram_and_the_ece_agree(calibrated):
    logits, y = calibrated
    proba = softmax(2 * logits)

    rows = reliability_diagram(proba, y, bins=12)

    gaps = sum(r["count"] * abs(r["accuracy"] - r["confidence"]) for r in rows if r["count"])
    assert sum(r["count"] for r in rows) == len(y)
    assert gaps / len(y) == pytest.approx(expected_calibration_error(proba, y, bins=12))


def test_labels_outside_the_classes_are_refused():
    with pytest.raises(ValueError, match=r"outside 0\.\.1"):
        expected_calibration_error(np.array([[0.5, 0.5]]), np.array([2]))
