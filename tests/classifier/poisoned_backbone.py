"""The tests' tiny backbone with a poison pill: the process that embeds a pure magenta image
dies at once (SIGKILL), as a worker does when an image runs it out of memory. Two more
colours misbehave for the time-limit tests: a pure blue image takes SLOW_SECONDS to embed, a
pure cyan one never finishes (inside the inference call, where nothing can interrupt it).

For a worker started with CLASSIFIER_EXTRA_BACKBONES="tiny=tests.classifier.poisoned_backbone.load":
its "tiny" network is the tests' own (tests/classifier/tiny_backbone.py, the same embeddings)
with a check in front, so a version trained in the test process predicts as usual in that
worker until it meets the poisoned image.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

# Uniform (255, 0, 255): decoded and resized, every pixel of it is still magenta.
POISON_COLOR = (255, 0, 255)
SLOW_COLOR = (0, 0, 255)
STUCK_COLOR = (0, 255, 255)
SLOW_SECONDS = 0.5
LOADER = "tests.classifier.poisoned_backbone.load"


def _die_on_poison(pixels):
    import numpy as np

    batch = np.asarray(pixels)

    def uniform(image, color) -> bool:
        return all((np.abs(image[..., c] - value) < 2).all() for c, value in enumerate(color))

    for image in batch:
        if uniform(image, POISON_COLOR):
            os.kill(os.getpid(), signal.SIGKILL)
        if uniform(image, SLOW_COLOR):
            time.sleep(SLOW_SECONDS)
        if uniform(image, STUCK_COLOR):
            time.sleep(3600)
    return batch.astype("float32")


def load(weights_dir: Path):
    import keras
    import tensorflow as tf

    from classifier.ml.backbones import Network
    from tests.classifier import tiny_backbone

    class PoisonPill(keras.layers.Layer):
        def call(self, inputs):
            # Python code at every call, inside the traced inference function.
            checked = tf.py_function(_die_on_poison, [inputs], tf.float32)
            checked.set_shape(inputs.shape)
            return checked

    tiny = tiny_backbone.load(weights_dir)
    size = tiny_backbone.INPUT_SIZE
    inputs = keras.Input((size, size, 3), dtype="float32")
    outputs = tiny.embedding_model(PoisonPill()(inputs))
    return Network(
        tiny_backbone.NAME, size, tiny.embedding_dim, keras.Model(inputs, outputs, name="poisoned")
    )
