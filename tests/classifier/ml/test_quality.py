"""The quality bar, end to end on real photos: the real backbone, a trained head, the test split.

150 train, 50 validation and 50 test photos per class from coffee-or-not (see
tests/support/coffee_or_not.py for the fixed selection); the Keras head with its default
hyperparameters must reach at least 0.97 test accuracy on selection 0, and EfficientNet-Lite2
with the logistic head (the default chosen in classifier/ml/README.md) at least 0.97 on average
over selections 0-4.
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


QUALITY_SEEDS = range(5)  # selections 0-4; seed 0 is the one above
QUALITY_BAR = 0.97


def test_lite2_with_the_logistic_head_averages_0_97_over_five_selections(photos, weights_dir):
    """The chosen default (classifier/ml/README.md, Model selection) on five selections.

    bench/model_selection.py measured these five at 0.98, 0.98, 1.00, 0.99, 1.00 (mean 0.990);
    over 50 selections taken five at a time, the means ranged 0.972-0.990 (std 0.005), so the
    bar sits below every group measured, 4 standard deviations under this group's mean.
    """
    import numpy as np

    from classifier.ml import load_backbone, train_logistic_head

    backbone = load_backbone("efficientnet_lite2", weights_dir=weights_dir)
    root = coffee_or_not.data_dir_or_not_available(what="quality test")
    selections = [coffee_or_not.select(root, seed=seed) for seed in QUALITY_SEEDS]
    started = time.perf_counter()
    paths = sorted({path for s in selections for items in s.values() for path, _ in items})
    embedded = dict(zip(paths, backbone.embed([p.read_bytes() for p in paths]), strict=True))
    embedding_seconds = time.perf_counter() - started

    accuracies = []
    started = time.perf_counter()
    for selection in selections:
        x, y = {}, {}
        for split, items in selection.items():
            x[split] = np.stack([embedded[path] for path, _ in items])
            y[split] = np.array([label for _, label in items])
        fit = train_logistic_head(
            train_x=x["train"],
            train_y=y["train"],
            val_x=x["validation"],
            val_y=y["validation"],
            num_classes=2,
        )
        accuracies.append(float((fit.predict_proba(x["test"]).argmax(1) == y["test"]).mean()))
    fitting_seconds = time.perf_counter() - started

    print(
        f"\nquality (lite2, logistic): test accuracy per selection {accuracies}, mean "
        f"{np.mean(accuracies):.3f}; embedding {len(paths)} photos {embedding_seconds:.1f} s, "
        f"5 fits {fitting_seconds:.2f} s"
    )
    assert np.mean(accuracies) >= QUALITY_BAR
