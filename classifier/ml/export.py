"""A model version as files that work without the platform: Keras, TFLite, and a small bundle.

The exported network is the backbone, the head and its calibration in one model that takes RGB
images: float32 pixels 0-255 of shape (n, input_size, input_size, 3), the whole picture resized
to a square (`classifier.ml.images.decode_image` does exactly that), and gives the calibrated
class probabilities. The temperature is folded into the last layer (softmax((xW + b) / T) =
softmax(x (W / T) + b / T)), so the file holds only standard Keras layers and loads with
`keras.models.load_model` alone, no custom objects.

The bundle (a zip) holds what a user needs around the model file: the labels in output order,
the preprocessing, the metrics and calibration, and a ten-line Python example.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from classifier.ml.head import TrainedHead

KERAS = "keras"
TFLITE = "tflite"
FORMATS = (KERAS, TFLITE)
FILE_NAMES = {KERAS: "model.keras", TFLITE: "model.tflite"}


def calibrated_classifier(backbone, head: TrainedHead):
    """One Keras model: RGB pixels (0-255, float32) -> calibrated class probabilities."""
    import keras

    if head.embedding_dim != backbone.embedding_dim:
        raise ValueError(
            f"the head reads {head.embedding_dim} values, the {backbone.name} backbone gives "
            f"{backbone.embedding_dim}"
        )
    size = backbone.input_size
    pixels = keras.Input((size, size, 3), dtype="float32", name="rgb_0_255")
    embedding = backbone.embedding_model(pixels)
    dense = keras.layers.Dense(head.class_count, name="calibrated_head")
    logits = dense(embedding)
    dense.set_weights([head.kernel / head.temperature, head.bias / head.temperature])
    probabilities = keras.layers.Softmax(name="probabilities")(logits)
    return keras.Model(pixels, probabilities, name=f"{backbone.name}_classifier")


def model_file(model, export_format: str) -> bytes:
    """The model as the bytes of a .keras or a .tflite file."""
    if export_format == KERAS:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / FILE_NAMES[KERAS]
            model.save(path)
            return path.read_bytes()
    if export_format == TFLITE:
        import tensorflow as tf

        return bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    raise ValueError(f"unknown export format {export_format!r}; formats: {', '.join(FORMATS)}")


# The same decoding as classifier.ml.images.decode_image (draft, EXIF, whole picture resized).
EXAMPLES = {
    KERAS: """\
# pip install tensorflow-cpu pillow (Keras 3). Usage: python predict.py photo.jpg
import json, sys
import keras, numpy as np
from PIL import Image, ImageOps
labels = json.load(open("labels.json"))
model = keras.models.load_model("model.keras")
size = model.input_shape[1]
photo = Image.open(sys.argv[1]); photo.draft("RGB", (size, size))
photo = ImageOps.exif_transpose(photo).convert("RGB").resize((size, size), Image.BILINEAR)
p = model.predict(np.asarray(photo, dtype=np.float32)[None], verbose=0)[0]
print(labels[int(p.argmax())], float(p.max()))
""",
    TFLITE: """\
# pip install tensorflow-cpu pillow (or ai-edge-litert). Usage: python predict.py photo.jpg
import json, sys
import numpy as np, tensorflow as tf
from PIL import Image, ImageOps
labels = json.load(open("labels.json"))
model = tf.lite.Interpreter(model_path="model.tflite"); model.allocate_tensors()
inp, out = model.get_input_details()[0], model.get_output_details()[0]
size = inp["shape"][1]; photo = Image.open(sys.argv[1]); photo.draft("RGB", (size, size))
photo = ImageOps.exif_transpose(photo).convert("RGB").resize((size, size), Image.BILINEAR)
model.set_tensor(inp["index"], np.asarray(photo, dtype=np.float32)[None]); model.invoke()
p = model.get_tensor(out["index"])[0]; print(labels[int(p.argmax())], float(p.max()))
""",
}


def bundle(
    *,
    export_format: str,
    labels: list[str],
    input_size: int,
    backbone_name: str,
    metrics: dict,
    calibration: dict,
    unsure_threshold: float | None,
    description: str,
) -> bytes:
    """The zip beside the model file: labels.json (output order), preprocessing.json,
    metrics.json (test metrics, calibration, the unsure threshold), predict.py (ten lines)
    and README.txt."""
    preprocessing = {
        "input": f"float32 RGB pixels 0-255, shape (n, {input_size}, {input_size}, 3)",
        "resize": f"the whole picture to {input_size}x{input_size} (not cropped), bilinear",
        "orientation": "EXIF orientation applied first (the photo upright)",
        "transparency": "flattened onto white",
        "normalisation": "none outside the model: it scales the pixels itself",
        "output": "calibrated class probabilities in labels.json's order",
        "backbone": backbone_name,
    }
    readme = (
        f"{description}\n\nFiles: {FILE_NAMES[export_format]} (downloaded beside this zip), "
        "labels.json, preprocessing.json, metrics.json, predict.py.\n"
        "Run: python predict.py photo.jpg  (with the model file in the same folder)\n"
        + (
            f"Predictions with a confidence below {unsure_threshold:.3f} are shown as 'unsure' "
            "on the platform.\n"
            if unsure_threshold is not None
            else ""
        )
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("labels.json", json.dumps(labels, indent=2))
        archive.writestr("preprocessing.json", json.dumps(preprocessing, indent=2))
        archive.writestr(
            "metrics.json",
            json.dumps(
                {
                    "test": metrics,
                    "calibration": calibration,
                    "unsure_threshold": unsure_threshold,
                },
                indent=2,
            ),
        )
        archive.writestr("predict.py", EXAMPLES[export_format])
        archive.writestr("README.txt", readme)
    return buffer.getvalue()


def predict_with_file(path: str | Path, pixels: np.ndarray) -> np.ndarray:
    """Probabilities from an exported file (by its suffix), for checks: float32 pixels 0-255."""
    path = Path(path)
    pixels = np.asarray(pixels, dtype=np.float32)
    if path.suffix == ".keras":
        import keras

        return np.asarray(keras.models.load_model(path).predict(pixels, verbose=0))
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_path=str(path))
    rows = []
    for row in pixels:  # the converted model has a fixed batch of 1
        interpreter.allocate_tensors()
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], row[None])
        interpreter.invoke()
        rows.append(interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0])
    return np.asarray(rows)
