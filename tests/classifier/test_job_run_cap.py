"""A job that kills its worker every time stops being run: after CLASSIFIER_JOB_MAX_RUNS runs it
is failed, with the image it was on named. Real workers on the test's own Redis, with the tests'
poisoned backbone (tests/classifier/poisoned_backbone.py): a magenta image SIGKILLs the worker
that embeds it, as an image that runs a worker out of memory does."""

import io

import pytest
from django.core.files.base import ContentFile
from PIL import Image as PILImage

from classifier import services
from classifier.models import JobStatus, Prediction, PredictionJob
from tests.classifier import poisoned_backbone
from tests.classifier.test_faults import active_version_trained_here, unfinished_jobs
from tests.factories import ImageFactory, png_bytes
from tests.support.broker import broker_use
from tests.support.processes import wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

WORKER_NAME = "poisoned@localhost"


def magenta_png() -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", (32, 24), poisoned_backbone.POISON_COLOR).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def poisoned_worker(private_redis, start_worker):
    """start() -> a prediction worker (always the same name, as a restarted container) whose
    backbone dies on magenta images."""
    private_redis.start()
    broker_use(private_redis.url)

    def start(wait_ready=True):
        return start_worker(
            name=WORKER_NAME,
            wait_ready=wait_ready,
            queues="prediction",
            broker_url=private_redis.url,
            extra_env={
                "CLASSIFIER_EXTRA_BACKBONES": f"tiny={poisoned_backbone.LOADER}",
                "CLASSIFIER_INFERENCE_BATCH_SIZE": "4",
            },
        )

    return start


def test_a_prediction_job_that_kills_its_worker_every_time_is_failed_naming_the_image(
    labeled_project, owner, poisoned_worker, settings
):
    settings.CLASSIFIER_JOB_MAX_RUNS = 3
    project = labeled_project()
    version = active_version_trained_here(project, owner)
    worker = poisoned_worker()
    wait_until(lambda: not unfinished_jobs(project), timeout=60, message="v1's re-prediction")
    before = [ImageFactory(project=project, content=png_bytes(seed=7000 + i)) for i in range(5)]
    poison = ImageFactory(
        project=project,
        content=magenta_png(),
        original_name="out-of-memory.png",
        file=ContentFile(magenta_png(), name="upload.png"),
    )
    after = [ImageFactory(project=project, content=png_bytes(seed=7100 + i)) for i in range(3)]
    job = services.prediction_job_start(
        project=project, requested_by=owner, image_ids=[i.pk for i in [*before, poison, *after]]
    )

    def dead_or_settled():
        job.refresh_from_db()
        return worker.process.poll() is not None or job.is_finished

    starts = 1
    while True:
        wait_until(dead_or_settled, timeout=90, message="a kill or the job to be settled")
        if job.is_finished:
            break
        assert starts < 5, f"still {job.status} after {job.runs} runs"
        # Restarted under its name, as a container is: it settles what its predecessor left
        # running (and may die on the poison again before it says it is ready).
        worker = poisoned_worker(wait_ready=False)
        starts += 1

    assert job.status == JobStatus.FAILED
    assert job.runs == 3
    assert f"image {poison.pk} ('out-of-memory.png')" in job.error
    assert "died in each of this job's 3 runs" in job.error
    assert "4 of 9 inputs were left without a prediction" in job.error
    # The images before it were predicted; the worker lives on and takes the next job.
    predicted = Prediction.objects.filter(model_version=version, image__in=before).count()
    assert predicted == len(before)
    assert worker.process.poll() is None
    later = services.prediction_job_start(
        project=project, requested_by=owner, image_ids=[i.pk for i in after]
    )
    wait_until(lambda: PredictionJob.objects.get(pk=later.pk).is_finished, timeout=60,
               message="the next job")  # fmt: skip
    later.refresh_from_db()
    assert later.status == JobStatus.SUCCEEDED, later.error
