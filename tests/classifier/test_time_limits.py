"""Celery's time limits hold under the solo pool the workers run with
(classifier.worker.time_limits): a job past its soft limit is failed saying so and the worker
goes on; a job stuck past its hard limit is failed and its worker killed. Real workers, with the
tests' misbehaving backbone (tests/classifier/poisoned_backbone.py). The limits travel in the
message, from the sender's settings; the workers' own limit is left high, so only Celery's
limits can stop these jobs."""

import io
import time

import pytest
from PIL import Image as PILImage

from classifier import services
from classifier.models import JobStatus, PredictionJob
from tests.classifier import poisoned_backbone
from tests.classifier.test_faults import active_version_trained_here, unfinished_jobs
from tests.factories import ImageFactory
from tests.support.broker import broker_use
from tests.support.processes import wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

SOFT_LIMIT = 2
GRACE = 3


def uniform_png(color, seed: int) -> bytes:
    picture = PILImage.new("RGB", (32 + seed, 24), color)  # sizes differ: so do the bytes
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def misbehaving_worker(private_redis, start_worker, settings, labeled_project, owner):
    private_redis.start()
    broker_use(private_redis.url)
    project = labeled_project()
    active_version_trained_here(project, owner)
    worker = start_worker(
        queues="prediction",
        broker_url=private_redis.url,
        extra_env={
            "CLASSIFIER_EXTRA_BACKBONES": f"tiny={poisoned_backbone.LOADER}",
            "CLASSIFIER_INFERENCE_BATCH_SIZE": "1",
            "CLASSIFIER_PREDICTION_TIME_LIMIT": "600",
        },
    )
    wait_until(lambda: not unfinished_jobs(project), timeout=60, message="v1's re-prediction")
    settings.CLASSIFIER_PREDICTION_TIME_LIMIT = SOFT_LIMIT
    settings.CLASSIFIER_HARD_TIME_LIMIT_GRACE = GRACE
    return project, worker


def finished(job) -> PredictionJob | None:
    job.refresh_from_db()
    return job if job.is_finished else None


def test_a_job_past_its_soft_limit_is_failed_and_the_worker_goes_on(misbehaving_worker, owner):
    project, worker = misbehaving_worker
    # 20 images of half a second each: 10 s of work, each step too short to notice.
    slow = [
        ImageFactory(project=project, content=uniform_png(poisoned_backbone.SLOW_COLOR, seed))
        for seed in range(20)
    ]
    started = time.monotonic()
    job = services.prediction_job_start(
        project=project, requested_by=owner, image_ids=[image.pk for image in slow]
    )

    wait_until(lambda: finished(job), timeout=60, message="the job to stop")

    assert job.status == JobStatus.FAILED
    assert f"Time limit of {SOFT_LIMIT} s exceeded" in job.error
    assert time.monotonic() - started < 8
    assert 0 < job.done < len(slow)
    assert worker.process.poll() is None
    later = services.prediction_job_start(
        project=project, requested_by=owner, image_ids=[slow[0].pk]
    )
    wait_until(lambda: finished(later), timeout=30, message="the next job")
    assert later.status == JobStatus.SUCCEEDED, later.error


def test_a_job_stuck_past_its_hard_limit_is_failed_and_its_worker_killed(misbehaving_worker, owner):
    project, worker = misbehaving_worker
    stuck = ImageFactory(project=project, content=uniform_png(poisoned_backbone.STUCK_COLOR, 0))
    started = time.monotonic()
    job = services.prediction_job_start(project=project, requested_by=owner, image_ids=[stuck.pk])

    wait_until(lambda: finished(job), timeout=60, message="the job to be failed")

    assert job.status == JobStatus.FAILED
    assert f"Hard time limit of {SOFT_LIMIT + GRACE} s exceeded" in job.error
    assert time.monotonic() - started < 20
    wait_until(lambda: worker.process.poll() is not None, timeout=10, message="the worker killed")
