"""Reads for webhooks' pages and API."""

from django.db.models import QuerySet

from labeling.models import Project
from webhooks.models import Webhook, WebhookDelivery

# The delivery log shows this many of a webhook's latest deliveries.
DELIVERY_LOG_LENGTH = 100


def webhooks_of(*, project: Project) -> QuerySet[Webhook]:
    return Webhook.objects.filter(project=project).order_by("pk")


def deliveries_of(*, webhook: Webhook) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(webhook=webhook).order_by("-created_at", "-pk")[
        :DELIVERY_LOG_LENGTH
    ]
