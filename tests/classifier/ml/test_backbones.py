"""Loading backbones and running them: the tests' tiny network (registered by conftest.py)
here, the real one in test_pretrained."""

import socket
import threading
import time

import numpy as np
import pytest

from classifier.ml import (
    BackboneUnavailableError,
    InvalidImageError,
    Network,
    backbone_names,
    load_backbone,
    register_backbone,
)
from classifier.ml import backbones as backbones_module
from tests.support.pixels import noisy_colour_images


def test_tiny_embeds_images_into_float32_rows(tiny):
    images = noisy_colour_images((200, 30, 30), 5, seed=1)

    embeddings = tiny.embed(images)

    assert tiny.name == "tiny" and tiny.input_size == 32
    assert embeddings.shape == (5, tiny.embedding_dim) and embeddings.dtype == np.float32
    assert np.isfinite(embeddings).all() and embeddings.any()


def test_embedding_is_deterministic(tiny):
    images = noisy_colour_images((30, 200, 30), 3, seed=2)

    first, second = tiny.embed(images), tiny.embed(images)
    alone = tiny.embed(images[1:2])

    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(alone[0], first[1], rtol=1e-5, atol=1e-6)


def test_no_images_give_an_empty_matrix(tiny):
    assert tiny.embed([]).shape == (0, tiny.embedding_dim)


def test_inference_runs_in_batches_capped_at_max_batch_size(tmp_path, monkeypatch):
    backbone = load_backbone("tiny", weights_dir=tmp_path, max_batch_size=32)
    batch_sizes = []
    run_batch = backbone._run_batch

    def recording_run_batch(fn, pixels):
        batch_sizes.append(len(pixels))
        return run_batch(fn, pixels)

    monkeypatch.setattr(backbone, "_run_batch", recording_run_batch)

    embeddings = backbone.embed(noisy_colour_images((90, 90, 200), 70, seed=3, size=16))

    assert batch_sizes == [32, 32, 6]
    assert embeddings.shape == (70, backbone.embedding_dim)


def test_every_load_builds_a_network_of_its_own(tmp_path):
    # classifier.ml keeps no cache: the one a worker keeps is classifier.worker.loaded_models.
    first = load_backbone("tiny", weights_dir=tmp_path)

    again = load_backbone("tiny", weights_dir=str(tmp_path))

    assert again is not first and again.embedding_model is not first.embedding_model


def test_a_different_batch_cap_shares_the_loaded_network(tmp_path):
    default = load_backbone("tiny", weights_dir=tmp_path)

    capped = default.with_max_batch_size(4)

    assert capped.max_batch_size == 4 and default.max_batch_size == 32
    assert capped.embedding_model is default.embedding_model


def test_a_registered_backbone_is_loaded_by_its_name(tmp_path):
    def load_small(weights_dir):
        import keras

        inputs = keras.Input((8, 8, 3), dtype="float32")
        model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(inputs))
        return Network("small", 8, 3, model)

    register_backbone("small", load_small)
    try:
        backbone = load_backbone("small", weights_dir=tmp_path, max_batch_size=2)
        embeddings = backbone.embed(noisy_colour_images((30, 60, 90), 3, seed=2, size=8))
        assert "small" in backbone_names()
    finally:
        backbones_module._LOADERS.pop("small")

    assert (backbone.name, backbone.input_size, backbone.embedding_dim) == ("small", 8, 3)
    np.testing.assert_allclose(embeddings.mean(axis=0), [30, 60, 90], atol=15)


def test_an_undecodable_image_raises_invalid_image_error(tiny):
    images = [*noisy_colour_images((1, 2, 3), 2, seed=4), b"not an image"]

    with pytest.raises(InvalidImageError):
        tiny.embed(images)


def test_tiny_has_no_imagenet_head(tiny):
    with pytest.raises(NotImplementedError, match="no ImageNet head"):
        tiny.classify_imagenet(noisy_colour_images((1, 2, 3), 1, seed=5))


def test_unknown_backbone_names_the_known_ones(tmp_path):
    known = "known: efficientnet_lite0, efficientnet_lite1, efficientnet_lite2, mobilenet_v2, tiny"
    with pytest.raises(ValueError, match=known):
        load_backbone("resnet9000", weights_dir=tmp_path)


def test_mobilenet_v2_without_network_fails_with_a_clear_error(tmp_path, monkeypatch):
    with socket.socket() as probe:  # a local port nobody listens on: refused at once
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setattr(
        backbones_module, "MOBILENET_V2_WEIGHTS_URL", f"http://127.0.0.1:{port}/weights.h5"
    )

    with pytest.raises(BackboneUnavailableError) as error:
        load_backbone("mobilenet_v2", weights_dir=tmp_path)

    message = str(error.value)
    assert "cannot download the MobileNetV2 ImageNet weights" in message
    assert backbones_module.MOBILENET_V2_WEIGHTS_FILE in message and str(tmp_path) in message
    assert list(tmp_path.iterdir()) == []  # no partial download left behind


def test_mobilenet_v2_download_that_stalls_times_out_instead_of_hanging(tmp_path, monkeypatch):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    monkeypatch.setattr(
        backbones_module,
        "MOBILENET_V2_WEIGHTS_URL",
        f"http://127.0.0.1:{server.getsockname()[1]}/weights.h5",
    )
    monkeypatch.setattr(backbones_module, "DOWNLOAD_TIMEOUT_SECONDS", 0.5)
    started = time.perf_counter()

    try:
        with pytest.raises(BackboneUnavailableError, match="timed out"):
            load_backbone("mobilenet_v2", weights_dir=tmp_path)
    finally:
        server.close()
        for connection, _ in accepted:
            connection.close()
    assert time.perf_counter() - started < 10


def test_mobilenet_v2_loads_weights_placed_in_the_weights_dir(tmp_path):
    # Keras' ImageNet file cannot be downloaded here; a file of the same format (a Keras HDF5
    # save of MobileNetV2 without top) proves the loading path and the embedding's shape.
    import keras

    keras.applications.MobileNetV2(
        input_shape=(224, 224, 3), include_top=False, pooling="avg", weights=None
    ).save(tmp_path / backbones_module.MOBILENET_V2_WEIGHTS_FILE)

    backbone = load_backbone("mobilenet_v2", weights_dir=tmp_path, max_batch_size=2)
    embeddings = backbone.embed(noisy_colour_images((10, 120, 240), 3, seed=6, size=64))

    assert (backbone.input_size, backbone.embedding_dim) == (224, 1280)
    assert embeddings.shape == (3, 1280) and np.isfinite(embeddings).all()
