"""Writes for webhooks: registering and removing URLs, recording an event's deliveries,
attempting a delivery (the Celery task's one call), sending one again.

Deliveries are rows first; their message (the delivery id) goes to the "webhooks" queue
after commit, by task name, so neither the web nor the TensorFlow workers wait on a
receiver. A delivery whose message was lost (the broker was down) is sent again by
`webhook_deliveries_dispatch_overdue`, which Celery beat runs every minute; the same sweep
takes back a delivery left "sending" by a webhooks worker that died during the attempt.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Sequence
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from labeling.models import Project
from webhooks.models import DeliveryStatus, Event, Webhook, WebhookDelivery
from webhooks.outbound import UrlRefused, post_json, target_resolve
from webhooks.payloads import delivery_payload

logger = logging.getLogger(__name__)

DELIVERY_TASK = "webhooks.tasks.webhook_delivery_send"
# A delivery whose message should have run this long ago and has not is taken as lost.
OVERDUE_AFTER = timedelta(minutes=1)


def webhook_create(
    *,
    project: Project,
    url: str,
    events: Sequence[str],
    secret: str = "",
    created_by: User | None = None,
) -> Webhook:
    """Register a URL for the project's events. A secret is generated when none is given.

    ValidationError for an unknown event, no event, or a URL webhooks may not call
    (webhooks.outbound: not http(s), unresolvable, or a non-public address).
    """
    events = list(dict.fromkeys(events))
    unknown = sorted(set(events) - set(Event.values))
    if unknown:
        raise ValidationError(
            f"Unknown event(s) {', '.join(unknown)}; use {', '.join(Event.values)}."
        )
    if not events:
        raise ValidationError("Choose at least one event.")
    try:
        target_resolve(url)
    except UrlRefused as exc:
        raise ValidationError({"url": str(exc)}) from None
    return Webhook.objects.create(
        project=project,
        url=url,
        events=events,
        secret=secret or secrets.token_urlsafe(32),
        created_by=created_by,
    )


def webhook_delete(*, webhook: Webhook) -> None:
    """Remove the webhook and its delivery log; queued deliveries are dropped."""
    webhook.delete()


@transaction.atomic
def webhook_event_record(*, project_id: int, event: str, object_ids: Sequence[int]) -> int:
    """Record a delivery of the event to each active webhook of the project that wants it,
    and send their messages after commit. Returns how many deliveries were created.

    `image.labeled` is batched: while a webhook's batch has not been attempted yet, the ids
    join it; a new batch is sent WEBHOOKS_BATCH_SECONDS after its first image, so a
    receiver gets at most one call per that interval however fast people label.
    """
    created = 0
    webhooks = Webhook.objects.filter(project_id=project_id, active=True).order_by("pk")
    for webhook in webhooks:
        if event not in webhook.events:
            continue
        if event == Event.IMAGE_LABELED:
            batch = (
                WebhookDelivery.objects.select_for_update()
                .filter(webhook=webhook, event=event, status=DeliveryStatus.PENDING, attempts=0)
                .first()
            )
            if batch is not None:
                batch.object_ids = list(dict.fromkeys([*batch.object_ids, *object_ids]))
                batch.save(update_fields=["object_ids"])
                continue
            countdown = settings.WEBHOOKS_BATCH_SECONDS
        else:
            countdown = 0
        delivery = WebhookDelivery.objects.create(
            webhook=webhook,
            event=event,
            object_ids=list(object_ids),
            next_attempt_at=timezone.now() + timedelta(seconds=countdown),
        )
        _dispatch_on_commit(delivery, countdown=countdown)
        created += 1
    return created


def _dispatch_on_commit(delivery: WebhookDelivery, *, countdown: float) -> None:
    transaction.on_commit(lambda: _dispatch(delivery.pk, countdown=countdown))


def _dispatch(delivery_id: int, *, countdown: float) -> bool:
    """Send the delivery's message; a broker error is logged and left to the overdue sweep."""
    try:
        current_app.send_task(DELIVERY_TASK, args=[delivery_id], countdown=countdown or None)
        return True
    except Exception:
        logger.warning("Could not queue webhook delivery %s; the sweep will", delivery_id)
        return False


def signature(secret: str, body: bytes) -> str:
    """The X-Signature header's value: "sha256=" and the hex HMAC-SHA256 of the body."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def _claim(delivery_id: int) -> WebhookDelivery | None:
    # The row lock and the status change make a duplicate message (a redelivery, a resend by
    # the sweep) a no-op: only a pending or retrying delivery is attempted.
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update()
            .select_related("webhook__project")
            .filter(pk=delivery_id, status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING])
            .first()
        )
        if delivery is None:
            return None
        if not delivery.payload:
            delivery.payload = delivery_payload(delivery)
        delivery.status = DeliveryStatus.SENDING
        delivery.attempts += 1
        delivery.last_attempt_at = timezone.now()
        delivery.save(update_fields=["payload", "status", "attempts", "last_attempt_at"])
        return delivery


def webhook_delivery_attempt(*, delivery_id: int) -> WebhookDelivery | None:
    """Make one attempt at the delivery (the Celery task's work) and record its outcome.

    The body is the stored payload plus this attempt's `timestamp` (Unix seconds, also in
    X-Webhook-Timestamp), signed with the webhook's secret (X-Signature), so the signature
    also vouches for the time and a receiver can refuse replays. A 2xx answer succeeds.
    Anything else (another status, a timeout, a refused connection) is retried after
    WEBHOOKS_RETRY_BACKOFF seconds, doubling each time, until WEBHOOKS_MAX_ATTEMPTS; then
    the delivery has failed. A URL that is refused (webhooks.outbound) fails at once.
    Returns the delivery, or None when it was not due (already sent, or gone).
    """
    delivery = _claim(delivery_id)
    if delivery is None:
        return None
    webhook = delivery.webhook
    timestamp = int(timezone.now().timestamp())
    # Keys sorted: PostgreSQL's jsonb does not keep their order, and a retry must send the
    # same bytes as the first attempt.
    body = json.dumps(
        {**delivery.payload, "timestamp": timestamp}, separators=(",", ":"), sort_keys=True
    ).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "labelplatform-webhooks/1",
        "X-Webhook-Event": delivery.event,
        "X-Webhook-Delivery": str(delivery.pk),
        "X-Webhook-Timestamp": str(timestamp),
        "X-Signature": signature(webhook.secret, body),
    }
    retry = True
    try:
        answer = post_json(webhook.url, body=body, headers=headers)
        delivery.response_code, delivery.duration_ms = answer.status, answer.duration_ms
        succeeded = 200 <= answer.status < 300
        delivery.error = "" if succeeded else f"HTTP {answer.status}: {answer.body[:500]}"
    except UrlRefused as exc:
        succeeded, retry = False, False
        delivery.response_code, delivery.duration_ms, delivery.error = None, None, str(exc)
    except Exception as exc:
        succeeded = False
        delivery.response_code, delivery.duration_ms = None, None
        delivery.error = f"{type(exc).__name__}: {exc}"[:2000]
    if succeeded:
        delivery.status, delivery.next_attempt_at = DeliveryStatus.SUCCEEDED, None
    elif retry and delivery.attempts < settings.WEBHOOKS_MAX_ATTEMPTS:
        wait = settings.WEBHOOKS_RETRY_BACKOFF * 2 ** (delivery.attempts - 1)
        delivery.status = DeliveryStatus.RETRYING
        delivery.next_attempt_at = timezone.now() + timedelta(seconds=wait)
    else:
        delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
    delivery.save(
        update_fields=["status", "response_code", "duration_ms", "error", "next_attempt_at"]
    )
    if delivery.status == DeliveryStatus.RETRYING:
        _dispatch(delivery.pk, countdown=wait)
    return delivery


def webhook_delivery_resend(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send the delivery's event again ("send again"): a new delivery with the same body (or,
    if it was never attempted, the same ids), attempted at once."""
    with transaction.atomic():
        again = WebhookDelivery.objects.create(
            webhook=delivery.webhook,
            event=delivery.event,
            object_ids=delivery.object_ids,
            payload=delivery.payload,
            resent_from=delivery,
            next_attempt_at=timezone.now(),
        )
        if again.payload:
            again.payload = {**again.payload, "delivery": again.pk}
            again.save(update_fields=["payload"])
        _dispatch_on_commit(again, countdown=0)
    return again


def sending_stalled_after() -> timedelta:
    """How long an attempt may stay "sending" before it is taken as abandoned: its two
    timeouts (connecting, then waiting for the answer: WEBHOOKS_TIMEOUT each) and a minute's
    margin. A live worker has recorded the outcome long before."""
    return timedelta(seconds=2 * settings.WEBHOOKS_TIMEOUT) + OVERDUE_AFTER


def webhook_deliveries_recover_stalled() -> list[int]:
    """Deliveries left "sending" past sending_stalled_after(): their worker died during the
    attempt (killed, its machine lost), so nobody will record its outcome, and the task's
    redelivered message would find the delivery already claimed. Each such attempt counts as
    failed: the delivery is retried at once, or has failed when that was its last attempt
    (WEBHOOKS_MAX_ATTEMPTS), so no delivery stays "sending" for longer than that bound.

    Returns the ids to retry (their messages are the caller's to send). The receiver may
    have got the abandoned attempt's call: a retry can repeat it, as any retry after a
    timeout can (X-Webhook-Delivery lets it tell)."""
    now = timezone.now()
    retry: list[int] = []
    with transaction.atomic():
        stalled = WebhookDelivery.objects.select_for_update().filter(
            status=DeliveryStatus.SENDING, last_attempt_at__lt=now - sending_stalled_after()
        )
        for delivery in stalled:
            delivery.response_code, delivery.duration_ms = None, None
            delivery.error = (
                f"Attempt {delivery.attempts} never finished: the webhooks worker stopped "
                "during it."
            )
            if delivery.attempts < settings.WEBHOOKS_MAX_ATTEMPTS:
                delivery.status, delivery.next_attempt_at = DeliveryStatus.RETRYING, now
                retry.append(delivery.pk)
            else:
                delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
            delivery.save(
                update_fields=["status", "response_code", "duration_ms", "error", "next_attempt_at"]
            )
            logger.warning(
                "Webhook delivery %s was left sending by a stopped worker: %s",
                delivery.pk,
                delivery.status,
            )
    return retry


def webhook_deliveries_dispatch_overdue() -> int:
    """Send again the messages of deliveries that should have been attempted over a minute
    ago (their message was never sent, or was lost with a broker restart), and retry those a
    dead worker left "sending" (webhook_deliveries_recover_stalled). Run by Celery beat; the
    claim in webhook_delivery_attempt makes a duplicate harmless. Returns the messages sent."""
    recovered = webhook_deliveries_recover_stalled()
    overdue = WebhookDelivery.objects.filter(
        Q(status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING])
        & Q(next_attempt_at__lt=timezone.now() - OVERDUE_AFTER)
    ).values_list("pk", flat=True)
    return sum(_dispatch(pk, countdown=0) for pk in [*recovered, *overdue])
