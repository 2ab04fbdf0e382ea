"""The quality bar, end to end on real photos: the real backbone, a trained head, the test split.

150 train, 50 validation and 50 test photos per class from coffee-or-not (see
tests/support/coffee_or_not.py for the fixed selection); the head with its default
hyperparameters must reach at least 0.97 test accuracy.
"""

import time

import pytest

from classifier.ml import evaluate, train_head
from tests.support import coffee_or_not

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def photos():
    return coffee_or_not.select(coffee_or_not.data_dir_or_not_available(what="quality test"))


def test_the_selection_is_150_50_50_per_class_with_cats_among_other(photos):
    for split, per_class in coffee_or_not.PER_CLASS.items():
        labels = [label for _, label in photos[split]]
        assert labels.count(0) == labels.count(1) == per_class
        cat_labels = [label for path, label in photos[split] if "kagglecat_" in path.name]
        assert cat_labels and set(cat_labels) == {1} and len(cat_labels) < per_class
    every = [path for items in photos.values() for path, _ in items]
    assert len(set(every)) == len(every)  # no photo in two splits
    assert coffee_or_not.select() == photos  # the same every time


def test_the_first_training_reaches_0_97_test_accuracy(photos, efficientnet):
    import numpy as np

    started = time.perf_counter()
    embedded = {
        split: (
            efficientnet.embed([path.read_bytes() for path, _ in items]),
            np.array([label for _, label in items]),
        )
        for split, items in photos.items()
    }
    embedding_seconds = time.perf_counter() - started
    (train_x, train_y), (val_x, val_y) = embedded["train"], embedded["validation"]

    started = time.perf_counter()
    head = train_head(train_x=train_x, train_y=train_y, val_x=val_x, val_y=val_y, num_classes=2)
    training_seconds = time.perf_counter() - started

    test_x, test_y = embedded["test"]
    result = evaluate(head.predict_proba(test_x), test_y, list(coffee_or_not.CLASS_NAMES))
    print(
        f"\nquality: test accuracy {result['accuracy']:.3f}, loss {result['loss']:.3f}, "
        f"confusion {result['confusion_matrix']}; embedding 500 photos {embedding_seconds:.1f} s, "
        f"training {training_seconds:.1f} s ({len(head.history['loss'])} epochs, "
        f"best {head.best_epoch})"
    )
    assert result["accuracy"] >= 0.97
