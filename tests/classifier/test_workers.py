"""End to end with a real Redis and real `celery worker` processes (solo pool, tiny backbone):
the API asks, the worker runs the job, the API reads the row."""

import io
import re
import time

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from rest_framework.test import APIClient

from classifier import selectors
from classifier.models import (
    JobStatus,
    ModelVersion,
    ModelVersionStatus,
    Prediction,
    PredictionJob,
    TrainingRun,
)
from tests.factories import png_bytes
from tests.support.broker import broker_use
from tests.support.labeled_images import FAST_TRAINING
from tests.support.processes import wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def client(owner):
    api = APIClient()
    api.force_authenticate(owner)
    return api


def train_through_api(client, project, **hyperparameters) -> dict:
    body = {"hyperparameters": {**FAST_TRAINING, **hyperparameters}}
    created = client.post(f"/api/projects/{project.pk}/training-runs/", body, format="json")
    assert created.status_code == 202, created.json()
    run = client.get(f"/api/training-runs/{created.json()['id']}/?wait=60").json()
    assert run["status"] == "succeeded", run
    return run


def stored_artifacts(project) -> set[str]:
    folder = f"projects/{project.pk}/models"
    _, files = default_storage.listdir(folder)
    return {f"{folder}/{name}" for name in files}


def repredictions_finished(project) -> bool:
    jobs = PredictionJob.objects.filter(project=project)
    return jobs.exists() and not jobs.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING])


def test_training_and_prediction_end_to_end_through_the_api(worker, labeled_project, client):
    project = labeled_project()

    run = train_through_api(client, project)

    assert run["progress"] == 100
    assert run["model_version"]["version"] == 1
    assert run["model_version"]["status"] == "active"
    versions = client.get(f"/api/projects/{project.pk}/model-versions/").json()
    assert [v["version"] for v in versions] == [1]
    assert set(versions[0]["metrics"]["per_class"]) == {"coffee", "other"}

    # Activation queued a re-prediction of every image; the worker writes them.
    wait_until(lambda: repredictions_finished(project), timeout=60, message="re-prediction")
    image = project.images.first()
    predictions = client.get(f"/api/images/{image.pk}/predictions/").json()
    assert predictions[0]["model_version"]["version"] == 1
    assert set(predictions[0]["probabilities"]) == {"coffee", "other"}

    job = client.post(
        f"/api/projects/{project.pk}/predictions/", {"image_ids": [image.pk]}, format="json"
    )
    assert job.status_code == 202
    result = client.get(f"/api/prediction-jobs/{job.json()['id']}/?wait=30").json()
    assert result["status"] == "succeeded"
    assert result["results"][0]["image_id"] == image.pk
    assert result["results"][0]["label"] == predictions[0]["label"]


def test_ad_hoc_files_are_predicted_by_the_worker(worker, labeled_project, client):
    project = labeled_project()
    train_through_api(client, project)
    files = [
        io.BytesIO(png_bytes(color=(150, 90, 40), seed=1)),
        io.BytesIO(png_bytes(color=(40, 90, 200), seed=2)),
    ]
    for name, file in zip(("mug.png", "sky.png"), files, strict=True):
        file.name = name

    job = client.post(f"/api/projects/{project.pk}/predictions/", {"files": files})

    assert job.status_code == 202, job.json()
    result = client.get(f"/api/prediction-jobs/{job.json()['id']}/?wait=30").json()
    assert result["status"] == "succeeded", result
    assert [(r["name"], r["label"]) for r in result["results"]] == [
        ("mug.png", "coffee"),
        ("sky.png", "other"),
    ]


def test_wait_answers_as_soon_as_the_job_finishes(worker, labeled_project, client):
    project = labeled_project()
    train_through_api(client, project)
    wait_until(lambda: repredictions_finished(project), timeout=60, message="re-prediction")
    image = project.images.first()
    job = client.post(
        f"/api/projects/{project.pk}/predictions/", {"image_ids": [image.pk]}, format="json"
    ).json()

    started = time.monotonic()
    result = client.get(f"/api/prediction-jobs/{job['id']}/?wait=50").json()

    assert result["status"] == "succeeded"
    assert time.monotonic() - started < 5


def test_the_backbone_is_loaded_once_per_worker_and_reported(worker, labeled_project, client):
    project = labeled_project()
    train_through_api(client, project)
    wait_until(lambda: repredictions_finished(project), timeout=60, message="re-prediction")

    (status,) = [w for w in selectors.workers_status(timeout=2) if w["hostname"] == worker.name]

    assert (status["queues"], status["pool"]) == (["training", "prediction"], "solo")
    assert list(status["backbones"]) == ["tiny"]
    active = ModelVersion.objects.get(project=project, status=ModelVersionStatus.ACTIVE)
    assert active.pk in status["model_versions"]
    # Loaded before the first job (at start-up), never again for the jobs that followed.
    log = worker.log()
    assert len(re.findall(r"Loaded backbone tiny", log)) == 1
    assert log.index("Loaded backbone tiny") < log.index(" ready.")


def test_activating_a_version_swaps_the_head_in_a_running_worker(worker, labeled_project, client):
    project = labeled_project()
    v1 = train_through_api(client, project)["model_version"]
    wait_until(lambda: repredictions_finished(project), timeout=60, message="re-prediction")
    run = train_through_api(client, project, seed=1)
    v2 = run["model_version"]
    if v2["status"] == "active":  # it beat v1: make v1 the one to switch to
        v1, v2 = v2, v1
    PredictionJob.objects.all().delete()

    response = client.post(f"/api/model-versions/{v2['id']}/activate/")

    assert response.status_code == 200
    assert response.json()["status"] == "active"
    wait_until(lambda: repredictions_finished(project), timeout=60, message="re-prediction")
    assert Prediction.objects.filter(model_version_id=v2["id"]).count() == project.images.count()
    (status,) = [w for w in selectors.workers_status(timeout=2) if w["hostname"] == worker.name]
    assert v2["id"] in status["model_versions"]
    assert v1["id"] not in status["model_versions"]


def test_the_retrain_command_waits_and_prints_the_version(worker, labeled_project, capsys):
    project = labeled_project()

    call_command("retrain", project.name, "--max-epochs=15", "--learning-rate=0.05")

    output = capsys.readouterr().out
    assert re.search(r"Version 1 \(active\) of Coffee: test accuracy \d\.\d+", output), output
    assert TrainingRun.objects.get(project=project).status == JobStatus.SUCCEEDED


def test_a_worker_killed_mid_training_leaves_a_failed_run_and_the_active_version(
    labeled_project, client, private_redis, start_worker
):
    project = labeled_project()
    private_redis.start()  # its own broker, so the shared worker cannot take the job
    broker_use(private_redis.url)
    first = start_worker(name="training-kill@localhost", broker_url=private_redis.url)
    train_through_api(client, project)
    active = ModelVersion.objects.get(project=project)
    # The Keras head with early stopping that never stops (the default logistic head is done
    # in milliseconds): the run is still training when it is killed.
    response = client.post(
        f"/api/projects/{project.pk}/training-runs/",
        {"hyperparameters": {"head": "keras", "max_epochs": 10_000, "patience": 10_000}},
        format="json",
    )
    run = TrainingRun.objects.get(pk=response.json()["id"])
    wait_until(
        lambda: TrainingRun.objects.filter(pk=run.pk, epoch__gte=3).exists(),
        timeout=60,
        message="training to be under way",
    )

    first.kill()
    start_worker(name="training-kill@localhost", broker_url=private_redis.url)  # back again

    run.refresh_from_db()
    active.refresh_from_db()
    assert run.status == JobStatus.FAILED
    assert "training-kill@localhost stopped while running this job" in run.error
    assert ModelVersion.objects.filter(project=project).count() == 1
    assert active.status == ModelVersionStatus.ACTIVE
    assert stored_artifacts(project) == {active.artifact.name}  # no orphaned artifact file
    # The next run trains as usual on the restarted worker.
    again = train_through_api(client, project)
    assert again["model_version"]["version"] == 2
    versions = ModelVersion.objects.filter(project=project)
    assert stored_artifacts(project) == {version.artifact.name for version in versions}


def test_a_retrain_asked_while_redis_is_down_runs_once_it_is_back(
    labeled_project, client, private_redis, start_worker
):
    project = labeled_project()
    broker_use(private_redis.url)  # not started yet: nothing listens there

    started = time.monotonic()
    body = {"hyperparameters": FAST_TRAINING}
    response = client.post(f"/api/projects/{project.pk}/training-runs/", body, format="json")
    elapsed = time.monotonic() - started

    assert response.status_code == 202
    assert elapsed < 3, f"asking took {elapsed:.1f} s with the broker down"
    assert response.json()["status"] == "queued"
    assert "could not be reached" in response.json()["note"]
    run = client.get(f"/api/training-runs/{response.json()['id']}/").json()
    assert run["status"] == "queued" and "sent as soon as the queue is back" in run["note"]

    private_redis.start()
    start_worker(broker_url=private_redis.url)

    run = client.get(f"/api/training-runs/{response.json()['id']}/?wait=60").json()
    assert run["status"] == "succeeded", run
    assert run["note"] is None


def test_asking_again_once_redis_is_back_sends_the_queued_run(
    labeled_project, client, private_redis, start_worker
):
    project = labeled_project()
    broker_use(private_redis.url)
    body = {"hyperparameters": FAST_TRAINING}
    first = client.post(f"/api/projects/{project.pk}/training-runs/", body, format="json").json()
    private_redis.start()

    again = client.post(f"/api/projects/{project.pk}/training-runs/", {}, format="json")

    assert again.status_code == 200
    assert again.json() == {"id": first["id"], "status": "queued", "note": None}
    assert TrainingRun.objects.get(pk=first["id"]).enqueued_at is not None
    start_worker(broker_url=private_redis.url)
    run = client.get(f"/api/training-runs/{first['id']}/?wait=60").json()
    assert run["status"] == "succeeded", run


def test_a_worker_that_rides_out_a_redis_outage_sends_what_was_asked_meanwhile(
    labeled_project, client, private_redis, start_worker
):
    project = labeled_project()
    private_redis.start()
    broker_use(private_redis.url)
    worker = start_worker(broker_url=private_redis.url)
    private_redis.stop()
    body = {"hyperparameters": FAST_TRAINING}
    asked = client.post(f"/api/projects/{project.pk}/training-runs/", body, format="json").json()
    assert asked["note"] is not None  # not sent: Redis is down

    private_redis.start()  # same port; the running worker reconnects and sends it

    run = client.get(f"/api/training-runs/{asked['id']}/?wait=60").json()
    assert run["status"] == "succeeded", (run, worker.log()[-3000:])
    assert "Sent 1 job(s) queued while the broker was unreachable" in worker.log()
