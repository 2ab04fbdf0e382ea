"""Celery tasks of the webhooks, on the light "webhooks" queue (settings.CELERY_TASK_ROUTES):
thin, take ids, call one service. No TensorFlow here: any worker may load this module."""

from celery import shared_task

from webhooks import services


@shared_task(name="webhooks.tasks.webhook_delivery_send")
def webhook_delivery_send(delivery_id: int) -> None:
    services.webhook_delivery_attempt(delivery_id=delivery_id)


@shared_task(name="webhooks.tasks.webhook_deliveries_dispatch_overdue")
def webhook_deliveries_dispatch_overdue() -> None:
    """Sent by Celery beat (settings.CELERY_BEAT_SCHEDULE)."""
    services.webhook_deliveries_dispatch_overdue()
