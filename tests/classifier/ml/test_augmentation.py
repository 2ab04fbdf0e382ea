"""Test-time augmentation: an image's embedding averaged with its mirror image's."""

import numpy as np
import pytest
from skimage import data

from classifier.ml.augmentation import embed, mirror, mirror_averaged_embeddings
from tests.support.pixels import batch_sizes_recorded, encode


def test_mirror_flips_left_and_right_only():
    pixels = np.arange(2 * 3 * 4 * 3, dtype=np.uint8).reshape(2, 3, 4, 3)

    flipped = mirror(pixels)

    np.testing.assert_array_equal(flipped[1, 2, 0], pixels[1, 2, 3])
    np.testing.assert_array_equal(mirror(flipped), pixels)


def test_an_unknown_mode_names_the_known_ones():
    with pytest.raises(ValueError, match="plain, mirror"):
        embed(None, [], mode="rotate")


@pytest.fixture(scope="module")
def photos():
    coffee, cat = data.coffee(), data.chelsea()
    return {
        "coffee": encode(coffee, "PNG"),
        "coffee mirrored": encode(coffee[:, ::-1], "PNG"),
        "cat": encode(cat, "PNG"),
        "cat mirrored": encode(cat[:, ::-1], "PNG"),
    }


@pytest.mark.slow
def test_is_the_mean_of_the_photo_and_its_mirror_image(efficientnet, photos):
    both = efficientnet.embed([photos["coffee"], photos["coffee mirrored"]])

    averaged = mirror_averaged_embeddings(efficientnet, [photos["coffee"]])

    assert averaged.shape == (1, 1280) and averaged.dtype == np.float32
    np.testing.assert_allclose(averaged[0], both.mean(axis=0), atol=2e-3)
    assert np.abs(both[0] - both[1]).max() > 0.05  # the mirror image is seen differently


@pytest.mark.slow
def test_a_photo_and_its_mirror_image_get_the_same_embedding(efficientnet, photos):
    images = [photos["cat"], photos["cat mirrored"]]

    averaged = embed(efficientnet, images, mode="mirror")

    np.testing.assert_allclose(averaged[0], averaged[1], atol=2e-3)


@pytest.mark.slow
def test_runs_each_photo_with_its_mirror_in_batches_within_the_cap(
    efficientnet, photos, monkeypatch
):
    backbone = efficientnet.with_max_batch_size(4)
    sizes = batch_sizes_recorded(backbone, monkeypatch)
    images = [photos["coffee"], photos["cat"]] * 3

    averaged = mirror_averaged_embeddings(backbone, images)

    assert sizes == [4, 4, 4]
    alone = mirror_averaged_embeddings(backbone, images[1:2])
    np.testing.assert_allclose(averaged[1], alone[0], rtol=1e-4, atol=1e-5)
