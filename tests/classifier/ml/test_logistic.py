"""The fast head: logistic regression on embeddings, its regularisation, refit and folds."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from classifier.ml import TrainedHead
from classifier.ml.calibration import negative_log_likelihood
from classifier.ml.logistic import (
    HEAD_KIND,
    fit_logistic_regression,
    logits,
    out_of_fold_proba,
    train_logistic_head,
)


def clusters(per_class: int, *, classes: int = 3, dim: int = 64, spread: float = 2.5, seed=0):
    """Points around one centre per class (overlapping a little): (x, y). The centres depend
    on the number of classes only, so calls with other seeds draw from the same classes."""
    centres = np.random.default_rng(classes).normal(scale=1.0, size=(classes, dim))
    rng = np.random.default_rng(1000 + seed)
    y = np.repeat(np.arange(classes), per_class)
    x = centres[y] + rng.normal(scale=spread / np.sqrt(dim), size=(len(y), dim))
    return x.astype(np.float32), y


@pytest.fixture(scope="module")
def splits():
    return {
        name: clusters(n, seed=seed)
        for name, n, seed in (("train", 60, 1), ("validation", 20, 2), ("test", 40, 3))
    }


@pytest.fixture(scope="module")
def fitted(splits):
    (train_x, train_y), (val_x, val_y) = splits["train"], splits["validation"]
    return train_logistic_head(
        train_x=train_x, train_y=train_y, val_x=val_x, val_y=val_y, num_classes=3
    )


def test_learns_three_classes_into_a_trained_head(fitted, splits):
    test_x, test_y = splits["test"]

    proba = fitted.head.predict_proba(test_x)

    assert isinstance(fitted.head, TrainedHead)
    assert proba.shape == (120, 3) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)
    assert (proba.argmax(axis=1) == test_y).mean() > 0.9
    assert fitted.head.hyperparameters["head"] == HEAD_KIND


def test_keeps_the_c_with_the_lowest_validation_loss(fitted, splits):
    (train_x, train_y), (val_x, val_y) = splits["train"], splits["validation"]

    recomputed = {
        c: negative_log_likelihood(
            logits(fit_logistic_regression(train_x, train_y, num_classes=3, c=c), val_x), val_y
        )
        for c in (0.1, 0.3, 1.0, 3.0)
    }

    assert fitted.validation_losses == pytest.approx(recomputed)
    assert fitted.c == min(recomputed, key=recomputed.get)
    assert fitted.head.hyperparameters["c"] == fitted.c


def test_a_grid_of_one_c_is_that_c(splits):
    (train_x, train_y), (val_x, val_y) = splits["train"], splits["validation"]

    fit = train_logistic_head(
        train_x=train_x, train_y=train_y, val_x=val_x, val_y=val_y, num_classes=3, c_grid=(0.02,)
    )

    assert fit.c == 0.02 and list(fit.validation_losses) == [0.02]


def test_same_inputs_give_the_same_head(fitted, splits):
    (train_x, train_y), (val_x, val_y) = splits["train"], splits["validation"]

    again = train_logistic_head(
        train_x=train_x, train_y=train_y, val_x=val_x, val_y=val_y, num_classes=3
    )

    np.testing.assert_array_equal(again.head.kernel, fitted.head.kernel)
    np.testing.assert_array_equal(again.head.bias, fitted.head.bias)
    assert again.temperature == fitted.temperature


def test_refit_learns_from_train_and_validation_with_the_chosen_c(fitted, splits):
    (train_x, train_y), (val_x, val_y) = splits["train"], splits["validation"]

    refitted = train_logistic_head(
        train_x=train_x, train_y=train_y, val_x=val_x, val_y=val_y, num_classes=3, refit=True
    )

    both = fit_logistic_regression(
        np.concatenate([train_x, val_x]),
        np.concatenate([train_y, val_y]),
        num_classes=3,
        c=fitted.c,
    )
    assert refitted.refit and refitted.head.hyperparameters["train_examples"] == 240
    np.testing.assert_allclose(refitted.head.kernel, both.kernel)
    # The temperature and validation figures come from the head fitted on train alone.
    assert refitted.temperature == fitted.temperature
    np.testing.assert_array_equal(refitted.validation_proba, fitted.validation_proba)


def test_calibrated_probabilities_divide_the_logits_by_the_temperature(fitted, splits):
    test_x, _ = splits["test"]
    z = logits(fitted.head, test_x) / fitted.temperature

    expected = np.exp(z - z.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(fitted.predict_proba(test_x), expected, rtol=1e-5, atol=1e-7)


def test_the_head_survives_its_npz_artifact(fitted, splits):
    test_x, _ = splits["test"]

    loaded = TrainedHead.from_bytes(fitted.head.to_bytes())

    np.testing.assert_array_equal(loaded.predict_proba(test_x), fitted.head.predict_proba(test_x))
    assert loaded.hyperparameters["temperature"] == fitted.temperature
    assert loaded.hyperparameters["validation_loss_by_c"]


def test_two_classes_give_scikit_learns_probabilities():
    x, y = clusters(50, classes=2, seed=4)

    head = fit_logistic_regression(x, y, num_classes=2, c=0.5)

    reference = LogisticRegression(C=0.5, max_iter=1000).fit(x, y).predict_proba(x)
    np.testing.assert_allclose(head.predict_proba(x), reference, atol=1e-5)


def test_a_class_without_training_examples_is_never_predicted():
    x, y = clusters(30, classes=2, seed=5)

    head = fit_logistic_regression(x, y, num_classes=3)

    proba = head.predict_proba(x)
    assert proba.shape == (60, 3)
    assert (proba[:, 2] == 0).all() and (proba.argmax(axis=1) != 2).all()


def test_one_class_alone_cannot_be_learned():
    x, _ = clusters(10, classes=1)

    with pytest.raises(ValueError, match="at least two classes"):
        fit_logistic_regression(x, np.zeros(10, dtype=int), num_classes=2)


def test_labels_outside_the_classes_are_refused(splits):
    x, y = splits["train"]

    with pytest.raises(ValueError, match=r"outside 0\.\.1"):
        fit_logistic_regression(x, y, num_classes=2)


def test_out_of_fold_probabilities_come_from_heads_that_did_not_see_the_row():
    x, y = clusters(40, classes=2, spread=1.0, seed=6)
    y = y.copy()
    y[3] = 1  # a class-0 point labeled 1: a wrong label

    held_out = out_of_fold_proba(x, y, num_classes=2, folds=5)
    in_sample = fit_logistic_regression(x, y, num_classes=2, c=1.0).predict_proba(x)

    assert held_out.shape == (80, 2) and np.allclose(held_out.sum(axis=1), 1)
    assert held_out[3, 1] < 0.2  # the others' model says class 0
    assert in_sample[3, 1] > held_out[3, 1]  # seeing the row pulls the model towards its label
    assert ((held_out.argmax(axis=1) == y).mean()) > 0.95


def test_out_of_fold_folds_are_stratified_and_seeded():
    x, y = clusters(25, classes=3, seed=7)

    first = out_of_fold_proba(x, y, num_classes=3, seed=1)

    np.testing.assert_array_equal(first, out_of_fold_proba(x, y, num_classes=3, seed=1))
    assert not np.array_equal(first, out_of_fold_proba(x, y, num_classes=3, seed=2))


def test_out_of_fold_needs_a_row_per_fold():
    x, y = clusters(2, classes=2)

    with pytest.raises(ValueError, match="5 folds need"):
        out_of_fold_proba(x, y, num_classes=2)
