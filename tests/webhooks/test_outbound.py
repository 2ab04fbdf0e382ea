"""The guard on webhooks' outbound calls (server-side request forgery) and the API's checks,
without a worker: the delivery attempt is the same function the worker's task calls."""

import pytest
from rest_framework.test import APIClient

from tests.factories import ImageFactory
from webhooks import services
from webhooks.models import DeliveryStatus, Webhook, WebhookDelivery
from webhooks.outbound import UrlRefused, target_resolve

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(owner):
    api = APIClient()
    api.force_authenticate(owner)
    return api


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://172.16.5.4/hook",
        "http://100.64.0.1/hook",
        "http://0.0.0.0/hook",
    ],
)
def test_urls_resolving_to_non_public_addresses_are_refused(url, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    with pytest.raises(UrlRefused, match="public addresses"):
        target_resolve(url)


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "file:///etc/passwd", "http://user:pw@example.com/"]
)
def test_other_schemes_and_credentials_in_the_url_are_refused(url):
    with pytest.raises(UrlRefused):
        target_resolve(url)


def test_a_public_address_is_allowed_and_the_connection_goes_to_the_checked_address(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    target = target_resolve("https://93.184.215.14:8443/path?x=1")
    assert (target.address, target.port, target.path) == ("93.184.215.14", 8443, "/path?x=1")
    assert target.host_header == "93.184.215.14:8443"


def test_the_api_refuses_a_loopback_url_unless_the_setting_allows_it(client, project, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    body = {"url": "http://127.0.0.1:9/hook", "events": ["image.labeled"]}

    refused = client.post(f"/api/projects/{project.pk}/webhooks/", body, format="json")
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
    allowed = client.post(f"/api/projects/{project.pk}/webhooks/", body, format="json")

    assert refused.status_code == 400
    assert "public addresses" in str(refused.json()["detail"])
    assert allowed.status_code == 201
    assert len(allowed.json()["secret"]) >= 32  # generated, shown once
    listed = client.get(f"/api/projects/{project.pk}/webhooks/").json()
    assert "secret" not in listed[0]


def test_unknown_events_are_refused(client, project, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
    answer = client.post(
        f"/api/projects/{project.pk}/webhooks/",
        {"url": "http://127.0.0.1:9/", "events": ["image.deleted"]},
        format="json",
    )
    assert answer.status_code == 400


def test_annotators_and_viewers_cannot_see_or_register_webhooks(project, annotator, viewer):
    for user in (annotator, viewer):
        api = APIClient()
        api.force_authenticate(user)
        assert api.get(f"/api/projects/{project.pk}/webhooks/").status_code == 403
        created = api.post(
            f"/api/projects/{project.pk}/webhooks/",
            {"url": "http://example.com/", "events": ["image.labeled"]},
            format="json",
        )
        assert created.status_code == 403


def test_redirects_are_not_followed_and_the_attempt_is_recorded(
    project, receiver, webhooks_settings
):
    receiver.answers = [302, 302, 302]
    webhook = Webhook.objects.create(
        project=project, url=receiver.url(), secret="x", events=["image.labeled"]
    )
    image = ImageFactory(project=project)
    delivery = WebhookDelivery.objects.create(
        webhook=webhook, event="image.labeled", object_ids=[image.pk]
    )

    attempted = services.webhook_delivery_attempt(delivery_id=delivery.pk)

    assert attempted.response_code == 302
    assert attempted.status == DeliveryStatus.RETRYING
    assert [call.path for call in receiver.calls] == ["/hook"]  # never /redirected


def test_a_receiver_that_does_not_answer_in_time_is_a_failed_attempt(project, webhooks_settings):
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts connections, never answers
    webhooks_settings.WEBHOOKS_TIMEOUT = 0.5
    webhook = Webhook.objects.create(
        project=project,
        url=f"http://127.0.0.1:{silent.getsockname()[1]}/",
        secret="x",
        events=["image.labeled"],
    )
    delivery = WebhookDelivery.objects.create(webhook=webhook, event="image.labeled")
    try:
        attempted = services.webhook_delivery_attempt(delivery_id=delivery.pk)
    finally:
        silent.close()

    assert attempted.status == DeliveryStatus.RETRYING
    assert attempted.response_code is None
    assert "Timeout" in attempted.error


def test_an_attempt_runs_once_even_when_its_message_arrives_twice(
    project, receiver, webhooks_settings
):
    webhook = Webhook.objects.create(
        project=project, url=receiver.url(), secret="x", events=["image.labeled"]
    )
    delivery = WebhookDelivery.objects.create(webhook=webhook, event="image.labeled")

    services.webhook_delivery_attempt(delivery_id=delivery.pk)
    second = services.webhook_delivery_attempt(delivery_id=delivery.pk)

    assert second is None
    assert len(receiver.calls) == 1
