"""Webhooks end to end: real `celery worker` processes (a training/prediction worker on the
tiny backbone, and a webhooks worker), a real HTTP receiver on loopback, the API in front."""

import hashlib
import hmac
import json
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from tests.factories import ImageFactory
from tests.support.labeled_images import FAST_TRAINING
from tests.support.processes import wait_until
from webhooks.models import DeliveryStatus, WebhookDelivery

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

ALL_EVENTS = [
    "training_run.finished",
    "model_version.activated",
    "prediction_job.finished",
    "health_check.finished",
    "image.labeled",
]


@pytest.fixture
def client(owner):
    api = APIClient()
    api.force_authenticate(owner)
    return api


def register(client, project, url, events, secret="s3cret") -> dict:
    answer = client.post(
        f"/api/projects/{project.pk}/webhooks/",
        {"url": url, "events": events, "secret": secret},
        format="json",
    )
    assert answer.status_code == 201, answer.json()
    return answer.json()


def signed_correctly(call, secret: str) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), call.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(call.headers["X-Signature"], expected)


def test_every_event_reaches_a_real_receiver_signed_with_the_object_as_the_api_shows_it(
    worker, webhooks_worker, labeled_project, receiver, client
):
    project = labeled_project()
    register(client, project, receiver.url(), ALL_EVENTS)

    created = client.post(
        f"/api/projects/{project.pk}/training-runs/",
        {"hyperparameters": FAST_TRAINING},
        format="json",
    ).json()
    run = client.get(f"/api/training-runs/{created['id']}/?wait=60").json()
    assert run["status"] == "succeeded"
    unlabeled = ImageFactory(project=project)
    labeled = client.post(
        f"/api/images/{unlabeled.pk}/annotations/", {"label": "coffee"}, format="json"
    )
    assert labeled.status_code == 201

    [finished] = receiver.wait_for("training_run.finished")
    [activated] = receiver.wait_for("model_version.activated")
    predicted = receiver.wait_for("prediction_job.finished")[0]
    [checked] = receiver.wait_for("health_check.finished")  # asked for by the training run
    [images] = receiver.wait_for("image.labeled")

    for call in (finished, activated, predicted, checked, images):
        assert call.path == "/hook"
        assert call.headers["Content-Type"] == "application/json"
        assert signed_correctly(call, "s3cret")
        assert call.json["event"] == call.headers["X-Webhook-Event"]
        assert str(call.json["timestamp"]) == call.headers["X-Webhook-Timestamp"]
        assert call.json["project"] == {"id": project.pk, "name": project.name}
    assert finished.json["ids"] == [run["id"]]
    assert finished.json["training_run"] == client.get(f"/api/training-runs/{run['id']}/").json()
    version_id = run["model_version"]["id"]
    assert activated.json["ids"] == [version_id]
    versions = client.get(f"/api/projects/{project.pk}/model-versions/").json()
    assert activated.json["model_version"]["id"] == version_id
    assert activated.json["model_version"]["status"] == "active"
    assert activated.json["model_version"] == next(v for v in versions if v["id"] == version_id)
    job_id = predicted.json["ids"][0]
    assert predicted.json["prediction_job"]["status"] == "succeeded"
    assert predicted.json["prediction_job"]["id"] == job_id
    [check_id] = checked.json["ids"]
    assert checked.json["health_check"] == client.get(f"/api/health-checks/{check_id}/").json()
    assert checked.json["health_check"]["status"] == "succeeded"
    assert images.json["ids"] == [unlabeled.pk]
    [image] = images.json["images"]
    assert image["id"] == unlabeled.pk
    assert image["label"] == "coffee"
    assert image["label_status"] == "labeled"


def test_a_changed_body_or_another_secret_does_not_match_the_signature(
    webhooks_worker, project, receiver, client
):
    register(client, project, receiver.url(), ["image.labeled"], secret="right")
    image = ImageFactory(project=project)
    client.post(f"/api/images/{image.pk}/annotations/", {"label": "coffee"}, format="json")

    [call] = receiver.wait_for("image.labeled")

    assert signed_correctly(call, "right")
    assert not signed_correctly(call, "wrong")
    tampered = type(call)(call.path, call.headers, call.body.replace(b"coffee", b"other"))
    assert not signed_correctly(tampered, "right")


def test_images_labeled_in_quick_succession_arrive_in_one_call(
    webhooks_worker, project, receiver, client
):
    register(client, project, receiver.url(), ["image.labeled"])
    images = [ImageFactory(project=project) for _ in range(3)]

    for image in images:
        client.post(f"/api/images/{image.pk}/annotations/", {"label": "other"}, format="json")
    [call] = receiver.wait_for("image.labeled")

    assert call.json["ids"] == [image.pk for image in images]
    assert [image["label"] for image in call.json["images"]] == ["other"] * 3
    wait_until(lambda: True, timeout=1)  # a second call would have come within the batch time
    assert len(receiver.calls_of("image.labeled")) == 1


def test_a_failing_receiver_is_retried_with_backoff_and_each_outcome_recorded(
    webhooks_worker, project, receiver, client
):
    receiver.answers = [500, 503]  # then 200
    hook = register(client, project, receiver.url(), ["image.labeled"])
    image = ImageFactory(project=project)
    client.post(f"/api/images/{image.pk}/annotations/", {"label": "coffee"}, format="json")

    calls = receiver.wait_for("image.labeled", count=3)
    wait_until(
        lambda: WebhookDelivery.objects.filter(status=DeliveryStatus.SUCCEEDED).exists(),
        timeout=10,
        message="the delivery to succeed",
    )

    assert [c.body.decode().replace(str(c.json["timestamp"]), "T") for c in calls] == [
        calls[0].body.decode().replace(str(calls[0].json["timestamp"]), "T")
    ] * 3  # the same body each time, but for its timestamp
    [delivery] = client.get(f"/api/webhooks/{hook['id']}/deliveries/").json()
    assert delivery["status"] == "succeeded"
    assert delivery["attempts"] == 3
    assert delivery["response_code"] == 200
    assert delivery["duration_ms"] is not None
    assert delivery["event"] == "image.labeled"


def test_a_receiver_that_keeps_failing_ends_failed_and_can_be_sent_again(
    webhooks_worker, project, receiver, client
):
    receiver.answers = [500, 500, 500]  # WEBHOOKS_MAX_ATTEMPTS is 3 here
    hook = register(client, project, receiver.url(), ["image.labeled"])
    image = ImageFactory(project=project)
    client.post(f"/api/images/{image.pk}/annotations/", {"label": "coffee"}, format="json")

    wait_until(
        lambda: WebhookDelivery.objects.filter(status=DeliveryStatus.FAILED).exists(),
        timeout=30,
        message="the delivery to fail",
    )
    [failed] = client.get(f"/api/webhooks/{hook['id']}/deliveries/").json()
    assert failed["attempts"] == 3
    assert failed["response_code"] == 500
    assert failed["error"].startswith("HTTP 500")

    again = client.post(f"/api/webhook-deliveries/{failed['id']}/resend/")
    assert again.status_code == 201
    wait_until(
        lambda: WebhookDelivery.objects.filter(status=DeliveryStatus.SUCCEEDED).exists(),
        timeout=10,
        message="the resent delivery to succeed",
    )
    calls = receiver.calls_of("image.labeled")
    assert len(calls) == 4
    assert calls[-1].json["ids"] == calls[0].json["ids"] == [image.pk]
    assert calls[-1].json["delivery"] == again.json()["id"]
    log = client.get(f"/api/webhooks/{hook['id']}/deliveries/").json()
    assert [(d["status"], d["resent_from"]) for d in log] == [
        ("succeeded", failed["id"]),
        ("failed", None),
    ]
    assert json.loads(calls[-1].body)["event"] == "image.labeled"


def test_the_webhooks_worker_loads_no_model(webhooks_worker):
    # Its process maps no TensorFlow library: webhooks never wait behind a model load, and the
    # worker stays small (labelplatform.celery installs the classifier only for model queues).
    maps = Path(f"/proc/{webhooks_worker.process.pid}/maps").read_text()
    assert "libtensorflow" not in maps
    assert "_pywrap_tensorflow" not in maps
