"""The body of each event: the event's name, the ids, and the object as the API shows it
(the API's own serializers, so a receiver parses one shape whether it polls or listens)."""

from __future__ import annotations

import json

from rest_framework.utils.encoders import JSONEncoder

from classifier.api.serializers import (
    HealthCheckSerializer,
    ModelVersionSerializer,
    PredictionJobSerializer,
    TrainingRunSerializer,
)
from classifier.models import HealthCheck, ModelVersion, PredictionJob, TrainingRun
from labeling import selectors as labeling_selectors
from labeling.api.serializers import ImageSerializer
from labeling.models import Image
from webhooks.models import Event, WebhookDelivery


def delivery_payload(delivery: WebhookDelivery) -> dict:
    """What the delivery's body says, read from the rows as they are now (JSON-ready)."""
    webhook = delivery.webhook
    ids = list(delivery.object_ids)
    payload: dict = {
        "event": delivery.event,
        "delivery": delivery.pk,
        "project": {"id": webhook.project_id, "name": webhook.project.name},
    }
    if delivery.event == Event.TRAINING_RUN_FINISHED:
        run = TrainingRun.objects.select_related("model_version").get(pk=ids[0])
        payload["training_run"] = TrainingRunSerializer(run).data
    elif delivery.event == Event.PREDICTION_JOB_FINISHED:
        job = PredictionJob.objects.get(pk=ids[0])
        payload["prediction_job"] = PredictionJobSerializer(job).data
    elif delivery.event == Event.MODEL_VERSION_ACTIVATED:
        version = ModelVersion.objects.get(pk=ids[0])
        payload["model_version"] = ModelVersionSerializer(version).data
    elif delivery.event == Event.HEALTH_CHECK_FINISHED:
        check = HealthCheck.objects.get(pk=ids[0])
        payload["health_check"] = HealthCheckSerializer(check).data
    elif delivery.event == Event.IMAGE_LABELED:
        images = labeling_selectors.images_with_annotations(
            Image.objects.filter(pk__in=ids, project_id=webhook.project_id).order_by("pk")
        )
        payload["images"] = ImageSerializer(images, many=True).data
    payload["ids"] = ids
    # Through the API's encoder (datetimes, decimals as the API writes them) and back, so
    # the payload can be stored in a JSON field and sent byte for byte as the API would.
    return json.loads(json.dumps(payload, cls=JSONEncoder))
