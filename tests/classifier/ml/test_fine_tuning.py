"""The optional slower mode: fine-tuning the top blocks of EfficientNet-Lite0 with the head."""

import numpy as np
import pytest
from skimage import data

from classifier.ml import FineTunedHead, TrainedHead, fine_tune, load_head, train_head
from tests.support import coffee_or_not
from tests.support.pixels import encode, noisy_colour_images


@pytest.fixture(scope="module")
def few_photos():
    selection = coffee_or_not.select(coffee_or_not.data_dir_or_not_available())

    def take(split, per_class):
        items = [i for i in selection[split] if i[1] == 0][:per_class]
        items += [i for i in selection[split] if i[1] == 1][:per_class]
        return [path.read_bytes() for path, _ in items], np.array([label for _, label in items])

    return {"train": take("train", 12), "validation": take("validation", 6)}


@pytest.mark.slow
def test_fine_tunes_without_touching_the_shared_backbone(efficientnet, few_photos):
    reference = [encode(data.coffee(), "JPEG")]
    before = efficientnet.embed(reference)
    epochs = []
    (train_images, train_y), (val_images, val_y) = few_photos["train"], few_photos["validation"]

    tuned = fine_tune(
        efficientnet,
        train_images=train_images,
        train_y=train_y,
        val_images=val_images,
        val_y=val_y,
        num_classes=2,
        max_epochs=2,
        on_epoch=lambda epoch, logs: epochs.append(epoch),
    )

    assert epochs == [1, 2] and tuned.from_block == 14
    np.testing.assert_array_equal(efficientnet.embed(reference), before)
    proba = tuned.predict_images(efficientnet, val_images)
    assert proba.shape == (12, 2)
    assert (proba.argmax(axis=1) == val_y).mean() >= 0.75

    restored = load_head(tuned.to_bytes())
    assert isinstance(restored, FineTunedHead)
    np.testing.assert_array_equal(restored.predict_images(efficientnet, val_images), proba)


def test_fine_tuning_needs_the_efficientnet_backbone(tiny):
    images = noisy_colour_images((10, 20, 30), 2, seed=1)

    with pytest.raises(ValueError, match="efficientnet_lite0"):
        fine_tune(
            tiny,
            train_images=images,
            train_y=np.array([0, 1]),
            val_images=images,
            val_y=np.array([0, 1]),
            num_classes=2,
        )


def test_load_head_reads_a_linear_head_too(tiny):
    images = noisy_colour_images((200, 10, 10), 2, seed=2) + noisy_colour_images(
        (10, 10, 200), 2, seed=3
    )
    x, y = tiny.embed(images), np.array([0, 0, 1, 1])
    head = train_head(train_x=x, train_y=y, val_x=x, val_y=y, num_classes=2, max_epochs=3)

    restored = load_head(head.to_bytes())

    assert isinstance(restored, TrainedHead)
    np.testing.assert_array_equal(restored.predict_images(tiny, images), head.predict_proba(x))


def test_load_head_rejects_what_is_no_artifact():
    with pytest.raises(ValueError, match="not a head artifact"):
        load_head(b"\x89PNG not a head")
