"""Faults around the broker and the workers, with real processes: a redis-server of the test's
own (started, stopped, paused or restarted empty by the test) and real `celery worker` and
`celery beat` subprocesses.

What each fault leaves behind (README, "Faults"):
- a prediction worker killed mid-job: the job is queued again and re-run by the next worker
  (writing a prediction twice is harmless: one row per image and version); a training run
  is failed with a message instead (test_workers.py);
- Redis stopped: pages, labels and uploads work; jobs wait visibly and are sent when it is back;
- Redis hung: a request waits for it once (socket timeouts), then not again for a while;
- Redis restarted without its data: beat's reconciliation sends the lost jobs again.
"""

import io
import time

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from classifier import services
from classifier.models import (
    JobStatus,
    ModelVersion,
    ModelVersionStatus,
    Prediction,
    PredictionJob,
    PredictionJobKind,
    TrainingRun,
)
from classifier.worker import training_run_execute
from labeling.models import Annotation, Image
from tests.factories import ImageFactory, png_bytes
from tests.support import REPOSITORY
from tests.support.broker import broker_use
from tests.support.labeled_images import FAST_TRAINING
from tests.support.processes import wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# A request with the broker down must not wait on it; this only catches a hang (the figures
# come from bench/broker_outage.py).
NO_HANG_SECONDS = 3


def active_version_trained_here(project, owner) -> ModelVersion:
    """Train v1 in this process (tiny backbone); its re-prediction is queued as usual."""
    run, _ = services.training_run_start(
        project=project, requested_by=owner, hyperparameters=FAST_TRAINING
    )
    training_run_execute(run_id=run.pk, worker="test@here")
    run.refresh_from_db()
    assert run.status == JobStatus.SUCCEEDED, run.error
    return ModelVersion.objects.get(project=project, status=ModelVersionStatus.ACTIVE)


def unfinished_jobs(project) -> bool:
    return PredictionJob.objects.filter(
        project=project, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
    ).exists()


def job_finished(job) -> PredictionJob | TrainingRun | None:
    job.refresh_from_db()
    return job if job.is_finished else None


def kill_while_running(worker, job, *, started_work=lambda: True) -> None:
    """SIGKILL the worker as soon as the job runs (and `started_work()` holds)."""

    def running():
        job.refresh_from_db()
        assert job.status != JobStatus.SUCCEEDED, "the job finished before it could be killed"
        return job.status == JobStatus.RUNNING and started_work()

    wait_until(running, timeout=60, interval=0.01, message="the job to be under way")
    worker.kill()


# ------------------------------------------------------------------------------------------
# A prediction worker killed with SIGKILL mid-job
# ------------------------------------------------------------------------------------------


@pytest.fixture
def prediction_worker(private_redis, start_worker):
    """start() -> a prediction worker on the test's own Redis, named so a restart under the
    same name (as a container restarts) finds the jobs its predecessor left running. Small
    batches, so a job of a few hundred images lasts long enough to be killed mid-way."""
    private_redis.start()
    broker_use(private_redis.url)

    def start():
        return start_worker(
            name="prediction-kill@localhost",
            queues="prediction",
            broker_url=private_redis.url,
            extra_env={"CLASSIFIER_INFERENCE_BATCH_SIZE": "2"},
        )

    return start


def test_a_prediction_worker_killed_mid_reprediction_leaves_the_job_to_the_next_worker(
    labeled_project, owner, prediction_worker, settings
):
    settings.CLASSIFIER_PREDICTION_JOB_SIZE = 10_000  # one job for the whole project
    project = labeled_project()
    version = active_version_trained_here(project, owner)
    first = prediction_worker()
    wait_until(lambda: not unfinished_jobs(project), timeout=60, message="v1's re-prediction")
    new_images = [
        ImageFactory(project=project, content=png_bytes(seed=9000 + i)) for i in range(300)
    ]
    (job,) = services.project_predictions_refresh(model_version=version)
    assert job.total == len(new_images)
    predicted = Prediction.objects.filter(model_version=version, image__in=new_images)

    kill_while_running(first, job, started_work=lambda: predicted.exists())

    written_before_the_kill = predicted.count()
    job.refresh_from_db()
    assert 0 < written_before_the_kill < len(new_images)
    assert job.status == JobStatus.RUNNING  # nobody left to say otherwise
    second = prediction_worker()  # the same name, as a restarted container

    wait_until(lambda: job_finished(job), timeout=90, message="the re-run")
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert (job.done, job.total, job.progress) == (300, 300, 100)
    assert "'prediction_jobs_requeued': 1" in second.log()
    # One row per image and version: the re-run rewrote the rows it had already written.
    rows = Prediction.objects.filter(model_version=version)
    assert rows.count() == project.images.count()
    assert rows.values("image").distinct().count() == project.images.count()
    version.refresh_from_db()
    assert version.status == ModelVersionStatus.ACTIVE
    assert ModelVersion.objects.filter(project=project).count() == 1
    # And the next job runs as usual.
    image = new_images[0]
    after = services.prediction_job_start(project=project, requested_by=owner, image_ids=[image.pk])
    wait_until(lambda: job_finished(after), timeout=60, message="the next job")
    assert after.status == JobStatus.SUCCEEDED, after.error


def test_an_ad_hoc_job_whose_worker_is_killed_is_re_run_and_its_files_deleted(
    labeled_project, owner, prediction_worker
):
    project = labeled_project()
    active_version_trained_here(project, owner)
    first = prediction_worker()
    wait_until(lambda: not unfinished_jobs(project), timeout=60, message="v1's re-prediction")
    api = APIClient()
    api.force_authenticate(owner)
    files = []
    for index in range(300):
        file = io.BytesIO(png_bytes(color=(150, 90, 40), seed=20_000 + index))
        file.name = f"photo-{index}.png"
        files.append(file)
    created = api.post(f"/api/projects/{project.pk}/predictions/", {"files": files})
    assert created.status_code == 202, created.json()
    job = PredictionJob.objects.get(pk=created.json()["id"])
    stored = [item["path"] for item in job.inputs]

    kill_while_running(first, job)

    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING
    assert all(default_storage.exists(path) for path in stored)  # killed before its cleanup
    prediction_worker()

    wait_until(lambda: job_finished(job), timeout=90, message="the re-run")
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert [result["name"] for result in job.results] == [f"photo-{i}.png" for i in range(300)]
    # The worker deletes the files just after it marks the job done (not before: killed in
    # between, the re-run would find no files to predict).
    wait_until(
        lambda: not any(default_storage.exists(path) for path in stored),
        timeout=30,
        message="the ad-hoc files deleted",
    )


# ------------------------------------------------------------------------------------------
# Redis stopped while users label and upload
# ------------------------------------------------------------------------------------------


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def upload(client, project, names_and_seeds) -> tuple:
    files = [SimpleUploadedFile(name, png_bytes(seed=seed)) for name, seed in names_and_seeds]
    return timed(
        lambda: client.post(
            reverse("labeling:project-upload", args=[project.pk]),
            {"split": "auto", "label": "", "files": files},
            headers={"Accept": "application/json"},
        )
    )


PAGES = [
    "labeling:project-dashboard",
    "labeling:project-label",
    "labeling:project-label-queue",
    "labeling:project-upload",
    "labeling:project-gallery",
    "classifier:project-models",
    "classifier:project-jobs",
    "classifier:project-jobs-fragment",
    "classifier:project-workers",
]


def test_with_redis_stopped_pages_labels_and_uploads_work_and_their_jobs_run_once_it_is_back(
    labeled_project, owner, private_redis, start_worker
):
    private_redis.start()
    broker_use(private_redis.url)
    project = labeled_project()
    version = active_version_trained_here(project, owner)
    start_worker(queues="prediction", broker_url=private_redis.url)
    wait_until(lambda: not unfinished_jobs(project), timeout=60, message="v1's re-prediction")
    client = Client()
    client.force_login(owner)

    private_redis.stop()

    for name in PAGES:
        response, seconds = timed(lambda name=name: client.get(reverse(name, args=[project.pk])))
        assert response.status_code == 200, name
        assert seconds < NO_HANG_SECONDS, f"{name} took {seconds:.1f} s with Redis stopped"
    response, seconds = upload(client, project, [("mug.png", 31_001), ("sky.png", 31_002)])
    assert response.status_code == 201, response.content
    assert seconds < NO_HANG_SECONDS, f"the upload took {seconds:.1f} s with Redis stopped"
    uploaded = Image.objects.filter(pk__in=[item["id"] for item in response.json()["created"]])
    assert uploaded.count() == 2
    job = PredictionJob.objects.get(project=project, kind=PredictionJobKind.NEW_IMAGES)
    assert (job.status, job.enqueued_at) == (JobStatus.QUEUED, None)
    assert "could not be reached" in job.dispatch_error
    jobs_page = client.get(
        reverse("classifier:project-jobs-fragment", args=[project.pk])
    ).content.decode()
    assert "not sent to a worker yet" in jobs_page
    labeled, seconds = timed(
        lambda: client.post(
            reverse("labeling:project-label-annotate", args=[project.pk]),
            {"image": uploaded[0].pk, "label_class": project.classes.get(name="coffee").pk},
            content_type="application/json",
        )
    )
    assert labeled.status_code == 201, labeled.content
    assert seconds < NO_HANG_SECONDS
    assert Annotation.objects.filter(image=uploaded[0], user=owner).exists()

    private_redis.start()  # the worker reconnects and sends what waited

    wait_until(lambda: job_finished(job), timeout=90, message="the new images' prediction")
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert Prediction.objects.filter(model_version=version, image__in=uploaded).count() == 2


def test_with_redis_hung_a_request_waits_for_it_once_then_not_again(
    labeled_project, owner, private_redis, settings
):
    settings.CLASSIFIER_BROKER_BACKOFF = 60
    private_redis.start()
    broker_use(private_redis.url)
    project = labeled_project()
    active_version_trained_here(project, owner)
    client = Client()
    client.force_login(owner)

    private_redis.pause()  # accepts connections, never answers

    first, first_seconds = upload(client, project, [("one.png", 32_001)])
    second, second_seconds = upload(client, project, [("two.png", 32_002)])
    workers, workers_seconds = timed(
        lambda: client.get(reverse("classifier:project-workers", args=[project.pk]))
    )

    assert (first.status_code, second.status_code, workers.status_code) == (201, 201, 200)
    assert first_seconds < 5, f"{first_seconds:.1f} s: more than the socket timeouts allow"
    assert second_seconds < 2, f"the second upload waited {second_seconds:.1f} s again"
    assert workers_seconds < 2
    jobs = PredictionJob.objects.filter(project=project, kind=PredictionJobKind.NEW_IMAGES)
    assert [(job.enqueued_at, bool(job.dispatch_error)) for job in jobs] == [(None, True)] * 2
    assert "did not answer a moment ago" in jobs.order_by("pk").last().dispatch_error


# ------------------------------------------------------------------------------------------
# Redis restarted without its data while jobs are queued
# ------------------------------------------------------------------------------------------


def test_jobs_whose_messages_redis_lost_run_once_beat_reconciles(
    labeled_project, owner, private_redis, start_worker, start_beat
):
    private_redis.start()
    broker_use(private_redis.url)
    project = labeled_project()
    active_version_trained_here(project, owner)  # its re-prediction is sent, not yet taken
    run, _ = services.training_run_start(
        project=project, requested_by=owner, hyperparameters=FAST_TRAINING
    )
    queued = [*PredictionJob.objects.filter(project=project), run]
    for job in queued:
        job.refresh_from_db()
        assert job.status == JobStatus.QUEUED and job.enqueued_at is not None

    private_redis.stop()  # restarted without its data: the messages are gone
    private_redis.start()
    worker = start_worker(
        broker_url=private_redis.url, extra_env={"CLASSIFIER_JOB_RECONCILE_AFTER": "1"}
    )
    time.sleep(3)
    assert all(job_finished(job) is None for job in queued)  # a worker alone finds nothing
    schedule_files = set(REPOSITORY.glob("celerybeat-schedule*"))
    beat = start_beat(
        broker_url=private_redis.url, extra_env={"CLASSIFIER_JOB_RECONCILE_INTERVAL": "1"}
    )

    for job in queued:
        wait_until(lambda job=job: job_finished(job), timeout=90, message=f"{job} to finish")
        assert job.status == JobStatus.SUCCEEDED, (job.error, worker.log()[-3000:])
    assert "The broker lost the message of" in worker.log()
    assert "Sending due task classifier-jobs-reconcile" in beat.log()
    assert set(REPOSITORY.glob("celerybeat-schedule*")) == schedule_files
