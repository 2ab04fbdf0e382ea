"""Prediction jobs, activation and rollback; the worker side runs in this process with the
tiny backbone. (The reads built on predictions, the labeling queue's order and the gallery's
filters: test_labeling_queue_and_filters.py.)"""

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage

from classifier import services
from classifier.models import (
    JobStatus,
    ModelVersionStatus,
    Prediction,
    PredictionJob,
    PredictionJobKind,
)
from classifier.worker import prediction_job_execute, training_run_execute
from labeling.signals import images_created
from tests.factories import ImageFactory, ProjectFactory, png_bytes
from tests.support.labeled_images import FAST_TRAINING

pytestmark = pytest.mark.django_db


@pytest.fixture
def trained(labeled_project, owner):
    """A project with an active version v1 trained on its labeled images."""
    project = labeled_project()
    run, _ = services.training_run_start(
        project=project, requested_by=owner, hyperparameters=FAST_TRAINING
    )
    training_run_execute(run_id=run.pk, worker="test@here")
    run.refresh_from_db()
    assert run.status == JobStatus.SUCCEEDED, run.error
    return project


def execute(job: PredictionJob) -> PredictionJob:
    prediction_job_execute(job_id=job.pk, worker="test@here")
    job.refresh_from_db()
    return job


def test_predicting_stored_images_writes_one_prediction_per_image(trained, owner):
    images = list(trained.images.order_by("pk")[:5])
    job = services.prediction_job_start(
        project=trained, requested_by=owner, image_ids=[i.pk for i in images]
    )

    job = execute(job)

    assert (job.status, job.progress, job.done, job.total) == (JobStatus.SUCCEEDED, 100, 5, 5)
    predictions = Prediction.objects.filter(model_version=job.model_version)
    assert predictions.count() == 5
    prediction = predictions.get(image=images[0])
    assert prediction.label.name in ("coffee", "other")
    assert set(prediction.probabilities) == {"coffee", "other"}
    assert prediction.confidence == pytest.approx(max(prediction.probabilities.values()))
    assert sum(prediction.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert {"load_model_ms", "inference_ms", "write_ms"} <= set(job.timings)


def test_predicting_again_updates_the_predictions_in_place(trained, owner):
    image_ids = list(trained.images.values_list("pk", flat=True)[:3])
    for _ in range(2):
        execute(
            services.prediction_job_start(project=trained, requested_by=owner, image_ids=image_ids)
        )

    assert Prediction.objects.count() == 3


def test_images_are_predicted_in_batches_of_the_configured_size(trained, owner, settings):
    settings.CLASSIFIER_INFERENCE_BATCH_SIZE = 4
    sizes = []
    from classifier import worker as worker_runtime

    backbone = worker_runtime.loaded_backbone("tiny")
    real_embed = backbone.embed

    def embed(images):
        sizes.append(len(images))
        return real_embed(images)

    backbone.embed = embed
    try:
        new = [ImageFactory(project=trained) for _ in range(10)]
        job = services.prediction_job_start(
            project=trained, requested_by=owner, image_ids=[i.pk for i in new]
        )
        execute(job)
    finally:
        backbone.embed = real_embed

    assert sizes == [4, 4, 2]


def test_images_of_another_project_are_refused(trained, owner):
    elsewhere = ImageFactory(project=ProjectFactory())

    with pytest.raises(ValidationError, match=rf"Unknown image id.*{elsewhere.pk}"):
        services.prediction_job_start(project=trained, requested_by=owner, image_ids=[elsewhere.pk])


def test_a_project_without_an_active_version_cannot_predict(labeled_project, owner):
    project = labeled_project()

    with pytest.raises(ValidationError, match="no active model"):
        services.prediction_job_start(
            project=project, requested_by=owner, image_ids=[project.images.first().pk]
        )


def ad_hoc(name: str, color) -> services.AdHocFile:
    return services.AdHocFile(name=name, file=io.BytesIO(png_bytes(color=color)))


def test_ad_hoc_files_get_results_and_are_not_kept(trained, owner):
    images_before = trained.images.count()
    job = services.prediction_job_start(
        project=trained,
        requested_by=owner,
        files=[ad_hoc("mug.png", (150, 90, 40)), ad_hoc("sky.png", (40, 90, 200))],
    )
    stored = [item["path"] for item in job.inputs]
    assert all(path.startswith("jobs/") and default_storage.exists(path) for path in stored)

    job = execute(job)

    assert job.status == JobStatus.SUCCEEDED
    assert [r["name"] for r in job.results] == ["mug.png", "sky.png"]
    assert set(job.results[0]["probabilities"]) == {"coffee", "other"}
    assert not any(default_storage.exists(path) for path in stored)
    assert trained.images.count() == images_before
    assert not Prediction.objects.exists()


def test_ad_hoc_jobs_leave_nothing_behind_in_storage(trained, owner):
    jobs_before = default_storage.listdir("jobs") if default_storage.exists("jobs") else ([], [])
    for name in ("one.png", "two.png"):
        job = services.prediction_job_start(
            project=trained, requested_by=owner, files=[ad_hoc(name, (150, 90, 40))]
        )
        execute(job)

    # Neither the files nor a folder per job stays (a folder per request would pile up).
    assert default_storage.listdir("jobs") == jobs_before


def test_a_file_that_is_not_an_image_is_refused_before_anything_is_stored(trained, owner):
    with pytest.raises(ValidationError, match=r"notes\.txt: not an image"):
        services.prediction_job_start(
            project=trained,
            requested_by=owner,
            files=[services.AdHocFile(name="notes.txt", file=io.BytesIO(b"hello"))],
        )

    assert not PredictionJob.objects.exists()


def test_activating_an_older_version_is_the_rollback(
    trained, owner, broker_down, django_capture_on_commit_callbacks
):
    v1 = trained.model_versions.get()
    run, _ = services.training_run_start(
        project=trained, requested_by=owner, hyperparameters=FAST_TRAINING
    )
    training_run_execute(run_id=run.pk, worker="test@here")
    v2 = trained.model_versions.get(version=2)
    if v2.status != ModelVersionStatus.ACTIVE:
        services.model_version_activate(model_version=v2, activated_by=owner)
    Prediction.objects.create(
        image=trained.images.first(), model_version=v1, confidence=0.9, probabilities={}
    )

    with django_capture_on_commit_callbacks(execute=True):
        services.model_version_activate(model_version=v1, activated_by=owner)

    v1.refresh_from_db()
    v2.refresh_from_db()
    assert (v1.status, v2.status) == (ModelVersionStatus.ACTIVE, ModelVersionStatus.RETIRED)
    assert v1.activated_by == owner
    assert v2.status_reason == f"Retired: v1 was activated by {owner}."
    # Re-prediction of the images v1 has not predicted yet, sent once the broker is back.
    job = PredictionJob.objects.get(model_version=v1, kind=PredictionJobKind.REPREDICT)
    assert job.total == trained.images.count() - 1
    assert job.status == JobStatus.QUEUED and job.enqueued_at is None
    assert "could not be reached" in job.dispatch_error


def test_activation_cancels_queued_repredictions_of_other_versions(trained, owner):
    v1 = trained.model_versions.get()
    services.project_predictions_refresh(model_version=v1)
    run, _ = services.training_run_start(
        project=trained, requested_by=owner, hyperparameters=FAST_TRAINING
    )
    training_run_execute(run_id=run.pk, worker="test@here")
    v2 = trained.model_versions.get(version=2)
    services.model_version_activate(model_version=v1, activated_by=owner)  # no-op if active
    services.model_version_activate(model_version=v2, activated_by=owner)

    job = PredictionJob.objects.get(model_version=v1, kind=PredictionJobKind.REPREDICT)
    assert job.status == JobStatus.CANCELLED
    assert job.error == "Superseded: v2 was activated."


def test_a_reprediction_is_split_into_jobs_of_the_configured_size(trained, settings):
    settings.CLASSIFIER_PREDICTION_JOB_SIZE = 10

    jobs = services.project_predictions_refresh(model_version=trained.model_versions.get())

    assert [job.total for job in jobs] == [10, 10, 4]


def test_new_images_are_predicted_by_the_active_version(trained):
    image = ImageFactory(project=trained)

    images_created.send(sender=type(trained), project=trained, image_ids=[image.pk])

    job = PredictionJob.objects.get()
    assert (job.kind, job.image_ids) == (PredictionJobKind.NEW_IMAGES, [image.pk])
    assert job.model_version == trained.model_versions.get(status=ModelVersionStatus.ACTIVE)


def test_new_images_of_a_project_without_a_model_queue_nothing(labeled_project):
    project = labeled_project()

    images_created.send(
        sender=type(project), project=project, image_ids=[project.images.first().pk]
    )

    assert not PredictionJob.objects.exists()
