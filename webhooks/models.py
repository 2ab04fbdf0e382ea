"""Webhooks: URLs a project's owners register for events, and every delivery to them.

A delivery is a row first (its event, the body it carries, its status and each attempt's
outcome), then a Celery message with its id on the light "webhooks" queue: the same pattern
as training runs, so the owner sees what was sent, what the receiver answered, and can send
it again.
"""

from django.conf import settings
from django.db import models

from labeling.models import Project


class Event(models.TextChoices):
    TRAINING_RUN_FINISHED = "training_run.finished", "Training run finished"
    MODEL_VERSION_ACTIVATED = "model_version.activated", "Model version activated"
    PREDICTION_JOB_FINISHED = "prediction_job.finished", "Prediction job finished"
    HEALTH_CHECK_FINISHED = "health_check.finished", "Data-health check finished"
    # Batched: at most one call per WEBHOOKS_BATCH_SECONDS, listing every image labeled since.
    IMAGE_LABELED = "image.labeled", "Images labeled"


class Webhook(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=500)
    # Signs each body (X-Signature: sha256=HMAC-SHA256(secret, body)) so the receiver can
    # tell our calls from anyone else's.
    secret = models.CharField(max_length=200)
    events = models.JSONField(default=list, help_text="Event names this URL receives")
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "id"]

    def __str__(self) -> str:
        return f"{self.url} ({', '.join(self.events)})"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    RETRYING = "retrying", "Retrying"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """One event sent (or to be sent) to one webhook, with the outcome of its last attempt."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40, choices=Event.choices)
    # The ids the event is about (one run, job or version; the images of an image.labeled
    # batch, which grows until the batch is sent).
    object_ids = models.JSONField(default=list)
    # The body's content, fixed at the first attempt so retries send the same thing (each
    # attempt adds its own timestamp); empty until then.
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    # A delivery "sent again" by an owner points at the one it repeats.
    resent_from = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.event} to {self.webhook.url} ({self.status})"
