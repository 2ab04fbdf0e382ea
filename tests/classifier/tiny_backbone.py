"""The tests' backbone: a small random CNN, identical in every process (fixed seeds).

Not part of the platform: it exists so the plumbing (jobs, workers, the embedding cache) can be
tested in seconds. Processes the tests start learn it through the registry of classifier.ml:
the test settings name `load` in CLASSIFIER_EXTRA_BACKBONES, which a worker registers before
its first load (classifier.worker.loaded_models); a test process that calls classifier.ml
directly calls `register()`. No Django here, like classifier.ml itself.
"""

from __future__ import annotations

from pathlib import Path

NAME = "tiny"
INPUT_SIZE = 32
EMBEDDING_DIM = 16
SEED = 1234
# For settings and environments: CLASSIFIER_EXTRA_BACKBONES={"tiny": LOADER}.
LOADER = "tests.classifier.tiny_backbone.load"


def load(weights_dir: Path):
    """The network (no weights to read: they come from the seeds). A BackboneLoader."""
    import keras

    from classifier.ml.backbones import Network

    def init(offset: int) -> keras.initializers.Initializer:
        return keras.initializers.GlorotUniform(seed=SEED + offset)

    inputs = keras.Input((INPUT_SIZE, INPUT_SIZE, 3), dtype="float32")
    x = keras.layers.Rescaling(1.0 / 255.0)(inputs)
    x = keras.layers.Conv2D(
        8, 3, strides=2, padding="same", activation="relu", kernel_initializer=init(0)
    )(x)
    x = keras.layers.Conv2D(
        EMBEDDING_DIM, 3, strides=2, padding="same", activation="relu", kernel_initializer=init(1)
    )(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return Network(NAME, INPUT_SIZE, EMBEDDING_DIM, keras.Model(inputs, x, name=NAME))


def register() -> None:
    """Make classifier.ml.load_backbone("tiny", ...) build this network in this process."""
    from classifier.ml import register_backbone

    register_backbone(NAME, load)
