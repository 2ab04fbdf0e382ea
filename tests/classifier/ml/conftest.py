import os

import pytest

from tests.classifier import tiny_backbone


@pytest.fixture(scope="session")
def weights_dir(tmp_path_factory):
    """Where backbones cache their weights: converted once per test session (or reused from
    CLASSIFIER_WEIGHTS_DIR, to skip even that)."""
    configured = os.environ.get("CLASSIFIER_WEIGHTS_DIR")
    return configured if configured else str(tmp_path_factory.mktemp("weights"))


@pytest.fixture(scope="session")
def efficientnet(weights_dir):
    from classifier.ml import load_backbone

    return load_backbone("efficientnet_lite0", weights_dir=weights_dir)


@pytest.fixture(scope="session", autouse=True)
def _tiny_registered():
    """The tests' tiny random network is not one of classifier.ml's: register it."""
    tiny_backbone.register()


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    from classifier.ml import load_backbone

    return load_backbone("tiny", weights_dir=str(tmp_path_factory.mktemp("tiny-weights")))
