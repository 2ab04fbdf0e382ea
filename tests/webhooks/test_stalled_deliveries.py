"""A delivery left "sending" by a webhooks worker that died during the attempt is taken back
by the periodic sweep (webhooks.services.webhook_deliveries_dispatch_overdue, run by beat):
retried, or failed when it was its last attempt; never "sending" forever."""

from datetime import timedelta

import pytest
from django.utils import timezone

from labeling.services import annotation_create
from tests.factories import ImageFactory
from tests.support.processes import wait_until
from tests.webhooks.conftest import WEBHOOKS_WORKER_ENV
from webhooks import services
from webhooks.models import DeliveryStatus, Event, Webhook, WebhookDelivery
from webhooks.services import sending_stalled_after


def attempt_began_long_ago(delivery: WebhookDelivery) -> None:
    """As if sending_stalled_after() had passed since the attempt began."""
    long_ago = timezone.now() - sending_stalled_after() - timedelta(seconds=1)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(last_attempt_at=long_ago)


@pytest.mark.worker
def test_a_delivery_whose_worker_died_mid_attempt_is_sent_again(
    project, owner, receiver, start_worker, webhooks_worker
):
    services.webhook_create(project=project, url=receiver.url(), events=[Event.IMAGE_LABELED])
    receiver.answering.clear()  # the receiver takes its time: the attempt is in flight
    annotation_create(
        image=ImageFactory(project=project), user=owner, label_class=project.classes.first()
    )
    receiver.wait_for(Event.IMAGE_LABELED)
    webhooks_worker.kill()
    receiver.answering.set()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENDING, 1)

    start_worker(queues="webhooks", extra_env=WEBHOOKS_WORKER_ENV)
    attempt_began_long_ago(delivery)
    services.webhook_deliveries_dispatch_overdue()

    receiver.wait_for(Event.IMAGE_LABELED, count=2)
    wait_until(
        lambda: WebhookDelivery.objects.get().status == DeliveryStatus.SUCCEEDED,
        timeout=30,
        message="the delivery sent again",
    )
    delivery.refresh_from_db()
    assert delivery.attempts == 2
    assert delivery.error == ""


@pytest.fixture
def webhook(project):
    return Webhook.objects.create(
        project=project, url="https://example.com/hook", secret="s", events=["image.labeled"]
    )


def sending(webhook, *, attempts: int) -> WebhookDelivery:
    return WebhookDelivery.objects.create(
        webhook=webhook,
        event=Event.IMAGE_LABELED,
        status=DeliveryStatus.SENDING,
        attempts=attempts,
        last_attempt_at=timezone.now(),
        payload={"event": "image.labeled"},
    )


def test_a_stalled_last_attempt_ends_the_delivery_failed(webhook, settings):
    settings.WEBHOOKS_MAX_ATTEMPTS = 3
    delivery = sending(webhook, attempts=3)
    attempt_began_long_ago(delivery)

    assert services.webhook_deliveries_dispatch_overdue() == 0

    delivery.refresh_from_db()
    assert (delivery.status, delivery.next_attempt_at) == (DeliveryStatus.FAILED, None)
    assert "worker stopped" in delivery.error


def test_a_stalled_earlier_attempt_is_due_for_a_retry(webhook, settings):
    settings.WEBHOOKS_MAX_ATTEMPTS = 3
    delivery = sending(webhook, attempts=1)
    attempt_began_long_ago(delivery)

    assert services.webhook_deliveries_recover_stalled() == [delivery.pk]

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.RETRYING
    assert delivery.next_attempt_at <= timezone.now()


def test_an_attempt_still_within_its_time_is_left_sending(webhook):
    delivery = sending(webhook, attempts=1)

    assert services.webhook_deliveries_dispatch_overdue() == 0

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENDING
