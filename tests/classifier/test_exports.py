"""Exports of a model version: POST /api/model-versions/{id}/exports/ queues a job on the
training queue, a training worker builds the Keras or TFLite file and its bundle, GET
/api/model-exports/{id}/ gives the status and the download URLs (members only).

The worker's code runs in this process with the tiny backbone; the files it builds are loaded
and checked against the platform's predictions (a fresh process with real photos:
test_exports_real.py)."""

import io
import json
import zipfile

import numpy as np
import pytest
from django.core.files.storage import default_storage
from rest_framework.test import APIClient

from classifier import services
from classifier.ml.export import predict_with_file
from classifier.models import JobStatus, ModelExport, Prediction
from classifier.worker import model_export_execute, prediction_job_execute, training_run_execute
from classifier.worker.loaded_models import loaded_backbone

pytestmark = pytest.mark.django_db


def api_for(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


@pytest.fixture
def version(labeled_project, owner):
    run, _ = services.training_run_start(project=labeled_project(), requested_by=owner)
    training_run_execute(run_id=run.pk, worker="test@here")
    run.refresh_from_db()
    return run.model_version


def export_built(version, owner, export_format: str) -> dict:
    api = api_for(owner)
    response = api.post(
        f"/api/model-versions/{version.pk}/exports/", {"format": export_format}, format="json"
    )
    assert response.status_code == 202, response.json()
    export_id = response.json()["id"]
    model_export_execute(export_id=export_id, worker="training@here")
    return api.get(f"/api/model-exports/{export_id}/?wait=1").json()


@pytest.mark.parametrize("export_format", ["keras", "tflite"])
def test_an_export_is_built_and_reproduces_the_platforms_predictions(
    version, owner, export_format, tmp_path, django_capture_on_commit_callbacks
):
    body = export_built(version, owner, export_format)

    assert body["status"] == "succeeded", body["error"]
    export = ModelExport.objects.get(pk=body["id"])
    path = tmp_path / f"model.{export_format}"
    path.write_bytes(default_storage.open(export.file.name).read())
    images = list(version.project.images.order_by("pk")[:6])
    job = services.prediction_job_start(
        project=version.project, requested_by=owner, image_ids=[image.pk for image in images]
    )
    prediction_job_execute(job_id=job.pk, worker="test@here")
    backbone = loaded_backbone("tiny")
    pixels = backbone.decode([default_storage.open(image.file.name).read() for image in images])

    exported = predict_with_file(path, pixels)

    platform = [Prediction.objects.get(image=image, model_version=version) for image in images]
    names = version.metrics["class_names"]
    for row, prediction in zip(exported, platform, strict=True):
        assert names[int(row.argmax())] == prediction.label.name
        assert np.allclose(row, [prediction.probabilities[name] for name in names], atol=1e-4)


def test_the_answer_links_the_model_file_to_members(version, owner, outsider, client):
    body = export_built(version, owner, "keras")

    assert body["download_url"].endswith(f"/media/model-exports/{body['id']}/model/")
    client.force_login(owner)
    owners_download = client.get(body["download_url"])
    assert owners_download.status_code == 200
    assert owners_download["Content-Disposition"].startswith("attachment;")
    client.force_login(outsider)
    assert client.get(body["download_url"]).status_code == 404


def test_the_download_accepts_the_api_token(version, owner, client):
    from rest_framework.authtoken.models import Token

    body = export_built(version, owner, "keras")
    token = Token.objects.create(user=owner)

    response = client.get(body["download_url"], HTTP_AUTHORIZATION=f"Token {token.key}")

    assert response.status_code == 200


def test_the_bundle_holds_labels_preprocessing_metrics_and_an_example(version, owner, client):
    body = export_built(version, owner, "tflite")
    client.force_login(owner)

    bundle = zipfile.ZipFile(io.BytesIO(b"".join(client.get(body["bundle_url"]).streaming_content)))

    assert set(bundle.namelist()) == {
        "labels.json", "preprocessing.json", "metrics.json", "predict.py", "README.txt",
    }  # fmt: skip
    assert json.loads(bundle.read("labels.json")) == ["coffee", "other"]
    metrics = json.loads(bundle.read("metrics.json"))
    assert metrics["calibration"]["temperature"] == version.calibration["temperature"]
    assert "model.tflite" in bundle.read("predict.py").decode()
    assert len(bundle.read("predict.py").decode().splitlines()) <= 12


def test_asking_again_returns_the_built_export(version, owner):
    first = export_built(version, owner, "keras")

    again = api_for(owner).post(
        f"/api/model-versions/{version.pk}/exports/", {"format": "keras"}, format="json"
    )

    assert again.status_code == 200
    assert again.json()["id"] == first["id"]
    assert ModelExport.objects.count() == 1


def test_an_unknown_format_is_a_400(version, owner):
    response = api_for(owner).post(
        f"/api/model-versions/{version.pk}/exports/", {"format": "onnx"}, format="json"
    )

    assert response.status_code == 400


def test_an_export_goes_to_the_training_queue(version, owner, monkeypatch):
    from celery import current_app

    sent = []
    monkeypatch.setattr(current_app, "send_task", lambda name, **kwargs: sent.append(name))
    export, created = services.model_export_start(
        model_version=version, export_format="keras", requested_by=owner
    )
    from classifier.services.jobs import job_dispatch

    job_dispatch(export)

    assert created and sent == ["classifier.tasks.training_model_export_execute"]
    from django.conf import settings

    route = settings.CELERY_TASK_ROUTES["classifier.tasks.training_*"]
    assert route == {"queue": "training"}
    assert ModelExport.objects.get(pk=export.pk).status == JobStatus.QUEUED


def test_viewers_cannot_ask_for_an_export(version, viewer):
    response = api_for(viewer).post(
        f"/api/model-versions/{version.pk}/exports/", {"format": "keras"}, format="json"
    )

    assert response.status_code == 403
