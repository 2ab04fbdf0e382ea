"""Every version's confidences are calibrated: a temperature fitted on the validation split
travels in its artifact, and the version records the test split's ECE before and after, the
reliability diagrams and the default "unsure" threshold."""

import numpy as np
import pytest

from classifier import services
from classifier.ml import load_head
from classifier.ml.calibration import softmax
from classifier.models import Prediction
from classifier.worker import prediction_job_execute, training_run_execute
from classifier.worker.embeddings import embeddings_for
from classifier.worker.loaded_models import loaded_backbone

pytestmark = pytest.mark.django_db


@pytest.fixture
def version(labeled_project, owner):
    run, _ = services.training_run_start(project=labeled_project(), requested_by=owner)
    training_run_execute(run_id=run.pk, worker="test@here")
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    return run.model_version


def test_a_version_records_its_temperature_and_the_test_ece_before_and_after(version):
    calibration = version.calibration

    with version.artifact.open("rb") as artifact:
        head = load_head(artifact.read())
    assert calibration["temperature"] == pytest.approx(head.temperature)
    assert calibration["temperature"] != 1.0  # fitted, not left at the default
    assert 0.0 <= calibration["ece_after"] <= 1.0
    assert 0.0 <= calibration["ece_before"] <= 1.0
    assert calibration["split"] == "test"


def test_the_reliability_diagrams_have_fifteen_bins_covering_the_test_split(version):
    test_images = sum(version.counts["test"].values())

    for diagram in (version.calibration["reliability_before"],
                    version.calibration["reliability_after"]):  # fmt: skip
        assert len(diagram) == 15
        assert sum(row["count"] for row in diagram) == test_images


def test_the_default_unsure_threshold_is_stored_with_the_version(version):
    assert 0.0 <= version.calibration["unsure_threshold"] <= 1.0


def test_the_validation_split_is_measured_class_by_class(version):
    per_class = version.metrics["validation_per_class"]

    assert set(per_class) == {"coffee", "other"}
    assert set(per_class["coffee"]) == {"precision", "recall", "f1", "support"}


def test_stored_predictions_carry_the_calibrated_confidence(version):
    image = version.project.images.order_by("pk").first()
    job = services.prediction_job_start(
        project=version.project, requested_by=None, image_ids=[image.pk]
    )
    prediction_job_execute(job_id=job.pk, worker="test@here")

    prediction = Prediction.objects.get(image=image, model_version=version)
    with version.artifact.open("rb") as artifact:
        head = load_head(artifact.read())
    embedding = embeddings_for(
        backbone=loaded_backbone("tiny"), items=[(image.sha256, image.file.name)]
    )
    expected = softmax(head.logits(embedding), version.calibration["temperature"])[0]
    assert prediction.confidence == pytest.approx(float(expected.max()), abs=1e-5)
    assert prediction.confidence != pytest.approx(
        float(softmax(head.logits(embedding))[0].max()), abs=1e-5
    )
    assert np.argmax(expected) == list(version.class_ids).index(prediction.label_id)
