"""The slower training mode: `fine_tune_blocks` > 0 also trains the top blocks of the real
EfficientNet-Lite0 on real photos, and the version it makes predicts stored and ad-hoc images.

Runs the services in this process (the worker's code, without the broker); slow: it loads the
real backbone. The selection is small (20 train, 10 validation, 10 test photos per class) so
that it takes seconds, not minutes.
"""

import pytest

from classifier import services
from classifier.ml import FineTunedHead, load_head
from classifier.models import JobStatus, ModelVersionStatus, Prediction
from classifier.worker import prediction_job_execute, training_run_execute
from labeling.models import Split
from tests.support.coffee_or_not import data_dir_or_not_available, photos_by_class, photos_upload

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

PER_SPLIT = {Split.TRAIN: 20, Split.VALIDATION: 10, Split.TEST: 10}


@pytest.fixture
def small_photo_project(project, owner, settings):
    settings.CLASSIFIER_BACKBONE = "efficientnet_lite0"
    available, start = photos_by_class(data_dir_or_not_available(), shuffled=True), 0
    for split, count in PER_SPLIT.items():
        for label in ("coffee", "other"):
            photos_upload(project, owner, available[label][start : start + count], split=split,
                   label=label)  # fmt: skip
        start += count
    project.held_out = {label: paths[start:] for label, paths in available.items()}
    return project


@pytest.fixture
def fine_tuned_version(small_photo_project, owner):
    run, _ = services.training_run_start(
        project=small_photo_project, requested_by=owner, hyperparameters={"fine_tune_blocks": 1}
    )
    training_run_execute(run_id=run.pk, worker="test@here")
    run.refresh_from_db()
    assert run.status == JobStatus.SUCCEEDED, run.error
    return run.model_version


def test_fine_tuning_makes_an_active_version_that_carries_its_own_top_blocks(
    fine_tuned_version,
):
    with fine_tuned_version.artifact.open("rb") as artifact:
        head = load_head(artifact.read())

    assert isinstance(head, FineTunedHead)
    assert head.from_block == 15  # the last of the 16 blocks was trained
    assert fine_tuned_version.status == ModelVersionStatus.ACTIVE
    assert fine_tuned_version.hyperparameters["mode"] == "fine_tune"
    assert fine_tuned_version.hyperparameters["trainable_blocks"] == 1
    assert fine_tuned_version.metrics["embedded"] == {"cached": 0, "new": 80}
    assert fine_tuned_version.metrics["history"]["val_loss"]
    # 20 test photos; the linear head alone is at 0.95-1.0 on such small selections.
    assert fine_tuned_version.metrics["accuracy"] >= 0.85


def test_a_fine_tuned_version_predicts_stored_images(fine_tuned_version, owner):
    project = fine_tuned_version.project
    test_images = list(project.images.filter(split=Split.TEST).select_related("label"))
    job = services.prediction_job_start(
        project=project, requested_by=owner, image_ids=[image.pk for image in test_images]
    )
    prediction_job_execute(job_id=job.pk, worker="test@here")

    predicted = dict(
        Prediction.objects.filter(model_version=fine_tuned_version).values_list(
            "image_id", "label__name"
        )
    )
    assert len(predicted) == len(test_images) == 20
    correct = sum(predicted[image.pk] == image.label.name for image in test_images)
    assert correct >= 17


def test_a_fine_tuned_version_predicts_ad_hoc_photos(
    small_photo_project, fine_tuned_version, owner
):
    project = small_photo_project
    paths = project.held_out["coffee"][:3] + project.held_out["other"][:3]
    files = [services.AdHocFile(name=path.name, file=path.open("rb")) for path in paths]
    try:
        job = services.prediction_job_start(project=project, requested_by=owner, files=files)
    finally:
        for ad_hoc in files:
            ad_hoc.file.close()
    prediction_job_execute(job_id=job.pk, worker="test@here")
    job.refresh_from_db()

    assert job.status == JobStatus.SUCCEEDED, job.error
    labels = [result["label"] for result in job.results]
    expected = ["coffee"] * 3 + ["other"] * 3
    assert sum(got == want for got, want in zip(labels, expected, strict=True)) >= 5
