"""A worker that cannot find an image in its media storage fails the job with an error saying
which file, where it looked, and what the web and the workers must share (a worker on another
machine with storage of its own is the likeliest cause; see
tests/deploy/test_separate_machines.py for that case end to end)."""

import pytest
from django.core.files.storage import default_storage

from classifier import services
from classifier.models import JobStatus
from classifier.worker import prediction_job_execute, training_run_execute
from labeling.models import Split
from tests.support.fake_s3 import media_on_fake_s3
from tests.support.labeled_images import FAST_TRAINING, add_labeled

pytestmark = pytest.mark.django_db

BUCKET = "labelplatform-missing-files"


@pytest.fixture
def media_in_a_bucket(settings, monkeypatch):
    """Media on S3 (moto's in-process fake)."""
    with media_on_fake_s3(settings, monkeypatch, bucket=BUCKET, default_acl="private"):
        yield BUCKET


def test_a_training_whose_image_is_not_in_the_storage_fails_naming_file_and_folder(
    labeled_project, owner, settings
):
    project = labeled_project()
    image = project.images.order_by("pk").first()
    default_storage.delete(image.file.name)
    run, _ = services.training_run_start(
        project=project, requested_by=owner, hyperparameters=FAST_TRAINING
    )

    training_run_execute(run_id=run.pk, worker="test@here")

    run.refresh_from_db()
    assert run.status == JobStatus.FAILED
    assert run.error.startswith(
        f"FileNotFoundError: {image.file.name} is not in this worker's media storage "
        f"(folder {settings.MEDIA_ROOT})."
    )
    assert "AWS_STORAGE_BUCKET_NAME" in run.error and "MEDIA_ROOT" in run.error


def test_a_prediction_whose_image_is_not_in_the_bucket_fails_naming_file_and_bucket(
    media_in_a_bucket, labeled_project, owner
):
    project = labeled_project()
    run, _ = services.training_run_start(
        project=project, requested_by=owner, hyperparameters=FAST_TRAINING
    )
    training_run_execute(run_id=run.pk, worker="test@here")
    # A new image (no cached embedding, so the worker must read its file), then lost.
    [image, _] = add_labeled(project, count=1, split=Split.TEST)
    default_storage.delete(image.file.name)
    job = services.prediction_job_start(project=project, requested_by=owner, image_ids=[image.pk])

    prediction_job_execute(job_id=job.pk, worker="test@here")

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error.startswith(
        f"FileNotFoundError: {image.file.name} is not in this worker's media storage "
        f"(bucket {media_in_a_bucket})."
    )
