"""An exported version reproduces the platform on real photos: the real EfficientNet-Lite2
backbone trains a version on coffee-or-not photos, the platform predicts held-out photos, and
the Keras and TFLite files, each loaded in a fresh Python process that knows nothing of Django,
give the same labels and probabilities within 1e-3. The bundle's example script runs too.

Slow (it loads the real backbone and TensorFlow in three processes): `pytest -m slow`.
"""

import io
import json
import os
import subprocess
import sys
import zipfile

import pytest
from django.core.files.storage import default_storage

from classifier import services
from classifier.models import JobStatus, ModelExport, Prediction
from classifier.worker import model_export_execute, prediction_job_execute, training_run_execute
from labeling.models import Split
from tests.support import REPOSITORY
from tests.support.coffee_or_not import data_dir_or_not_available, photos_by_class, photos_upload

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

PER_SPLIT = {Split.TRAIN: 20, Split.VALIDATION: 10, Split.TEST: 10}
HELD_OUT_PER_CLASS = 4

# Runs in a fresh interpreter: decode the photos as the platform does, predict with the file.
CHECKER = """
import json, sys
from classifier.ml.export import predict_with_file
from classifier.ml.images import decode_image
model, size, photos = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
pixels = [decode_image(open(photo, "rb").read(), size) for photo in photos]
print(json.dumps(predict_with_file(model, pixels).tolist()))
"""


@pytest.fixture
def predicted(project, owner, settings):
    settings.CLASSIFIER_BACKBONE = "efficientnet_lite2"
    available, start = photos_by_class(data_dir_or_not_available(), shuffled=True), 0
    for split, count in PER_SPLIT.items():
        for label in ("coffee", "other"):
            photos_upload(project, owner, available[label][start : start + count], split=split,
                          label=label)  # fmt: skip
        start += count
    held_out = [path for label in ("coffee", "other")
                for path in available[label][start : start + HELD_OUT_PER_CLASS]]  # fmt: skip
    images = photos_upload(project, owner, held_out, split=Split.TRAIN)
    run, _ = services.training_run_start(project=project, requested_by=owner)
    training_run_execute(run_id=run.pk, worker="test@here")
    run.refresh_from_db()
    assert run.status == JobStatus.SUCCEEDED, run.error
    version = run.model_version
    job = services.prediction_job_start(
        project=project, requested_by=owner, image_ids=[image.pk for image in images]
    )
    prediction_job_execute(job_id=job.pk, worker="test@here")
    predictions = [Prediction.objects.get(image=image, model_version=version) for image in images]
    return version, held_out, predictions


def built(version, owner, export_format: str) -> ModelExport:
    export, _ = services.model_export_start(
        model_version=version, export_format=export_format, requested_by=owner
    )
    model_export_execute(export_id=export.pk, worker="training@here")
    export.refresh_from_db()
    assert export.status == JobStatus.SUCCEEDED, export.error
    return export


def outside_django() -> dict:
    """This environment without Django's settings: the fresh process is a user's machine."""
    return {key: value for key, value in os.environ.items() if not key.startswith("DJANGO")}


def fresh_process(*arguments: str) -> str:
    done = subprocess.run(
        [sys.executable, *arguments], cwd=REPOSITORY, capture_output=True, text=True, timeout=600,
        env=outside_django(),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.parametrize("export_format", ["keras", "tflite"])
def test_the_exported_file_gives_the_platforms_predictions_in_a_fresh_process(
    predicted, owner, export_format, tmp_path
):
    version, photos, predictions = predicted
    export = built(version, owner, export_format)
    model = tmp_path / f"model.{export_format}"
    model.write_bytes(default_storage.open(export.file.name).read())

    output = fresh_process("-c", CHECKER, str(model), "260", *map(str, photos))

    names = version.metrics["class_names"]
    for row, prediction in zip(json.loads(output), predictions, strict=True):
        assert names[max(range(len(row)), key=row.__getitem__)] == prediction.label.name
        expected = [prediction.probabilities[name] for name in names]
        assert row == pytest.approx(expected, abs=1e-3)


def test_the_bundles_example_predicts_a_photo_as_the_platform_does(predicted, owner, tmp_path):
    version, photos, predictions = predicted
    export = built(version, owner, "keras")
    with zipfile.ZipFile(io.BytesIO(default_storage.open(export.bundle.name).read())) as bundle:
        bundle.extractall(tmp_path)
    (tmp_path / "model.keras").write_bytes(default_storage.open(export.file.name).read())

    done = subprocess.run(
        [sys.executable, "predict.py", str(photos[0])], cwd=tmp_path, capture_output=True,
        text=True, timeout=600, env=outside_django(),
    )  # fmt: skip

    assert done.returncode == 0, done.stderr[-3000:]
    label, confidence = done.stdout.split()
    assert label == predictions[0].label.name
    assert float(confidence) == pytest.approx(predictions[0].confidence, abs=1e-3)
