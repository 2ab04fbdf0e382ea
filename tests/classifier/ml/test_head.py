import numpy as np
import pytest

from classifier.ml import TrainedHead, evaluate, train_head
from tests.support.pixels import noisy_colour_images


@pytest.fixture(scope="module")
def colour_problem(tiny):
    """Reddish against bluish noisy pictures, embedded by the tiny random backbone."""

    def split(count, seed):
        reds = noisy_colour_images((190, 60, 50), count, seed=seed)
        blues = noisy_colour_images((50, 70, 190), count, seed=seed + 1)
        return tiny.embed(reds + blues), np.array([0] * count + [1] * count)

    return {"train": split(40, 10), "val": split(15, 20), "test": split(15, 30)}


def train(problem, **kwargs):
    (train_x, train_y), (val_x, val_y) = problem["train"], problem["val"]
    return train_head(
        train_x=train_x,
        train_y=train_y,
        val_x=val_x,
        val_y=val_y,
        num_classes=2,
        **{"max_epochs": 60, "patience": 10, **kwargs},
    )


def test_learns_a_separable_problem_on_tiny_embeddings(colour_problem):
    head = train(colour_problem, learning_rate=1e-2)

    test_x, test_y = colour_problem["test"]
    result = evaluate(head.predict_proba(test_x), test_y, ["red", "blue"])
    assert result["accuracy"] == 1.0
    assert head.history["val_accuracy"][head.best_epoch - 1] == 1.0
    assert head.class_count == 2 and head.embedding_dim == test_x.shape[1]


def test_reports_every_epoch_with_its_metrics(colour_problem):
    calls = []

    head = train(
        colour_problem, max_epochs=7, patience=100, on_epoch=lambda e, logs: calls.append((e, logs))
    )

    assert [epoch for epoch, _ in calls] == [1, 2, 3, 4, 5, 6, 7]
    assert set(calls[0][1]) == {"loss", "accuracy", "val_loss", "val_accuracy", "max_epochs"}
    assert calls[-1][1]["max_epochs"] == 7
    assert [logs["val_loss"] for _, logs in calls] == pytest.approx(head.history["val_loss"])
    assert all(len(values) == 7 for values in head.history.values())


def test_stops_early_and_keeps_the_weights_of_the_best_validation_loss(colour_problem):
    # Validation labels flipped: the better the head fits the training set, the worse its
    # validation loss, so the best epoch is the first and training stops after `patience` more.
    (val_x, val_y) = colour_problem["val"]
    flipped = {**colour_problem, "val": (val_x, 1 - val_y)}

    head = train(flipped, learning_rate=1e-2, max_epochs=200, patience=3)

    val_losses = head.history["val_loss"]
    assert len(val_losses) < 200
    assert head.best_epoch == 1 + int(np.argmin(val_losses))
    assert len(val_losses) == head.best_epoch + 3
    restored = evaluate(head.predict_proba(val_x), 1 - val_y, ["red", "blue"])["loss"]
    assert restored == pytest.approx(min(val_losses), rel=1e-4)


def test_the_same_seed_gives_the_same_head(colour_problem):
    first, second = train(colour_problem, seed=7), train(colour_problem, seed=7)

    np.testing.assert_array_equal(first.kernel, second.kernel)
    np.testing.assert_array_equal(first.bias, second.bias)


def test_bytes_round_trip_gives_identical_probabilities(colour_problem):
    head = train(colour_problem, max_epochs=5)
    test_x, _ = colour_problem["test"]

    restored = TrainedHead.from_bytes(head.to_bytes())

    np.testing.assert_array_equal(restored.predict_proba(test_x), head.predict_proba(test_x))
    assert restored.history == head.history
    assert restored.best_epoch == head.best_epoch
    assert restored.hyperparameters == head.hyperparameters


def test_probabilities_are_a_distribution_per_row(colour_problem):
    head = train(colour_problem, max_epochs=5)

    proba = head.predict_proba(colour_problem["test"][0])

    assert proba.shape == (30, 2) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


def test_from_bytes_rejects_what_is_not_a_head_artifact():
    with pytest.raises(ValueError, match="not a trained head artifact"):
        TrainedHead.from_bytes(b"PK\x03\x04 garbage")


def test_rejects_labels_outside_the_classes(colour_problem):
    (train_x, train_y), (val_x, val_y) = colour_problem["train"], colour_problem["val"]

    with pytest.raises(ValueError, match=r"outside 0\.\.1"):
        train_head(train_x=train_x, train_y=train_y + 1, val_x=val_x, val_y=val_y, num_classes=2)


def test_needs_a_validation_example(colour_problem):
    (train_x, train_y) = colour_problem["train"]

    with pytest.raises(ValueError, match="one validation example"):
        train_head(
            train_x=train_x,
            train_y=train_y,
            val_x=np.zeros((0, train_x.shape[1])),
            val_y=np.zeros(0, dtype=int),
            num_classes=2,
        )
