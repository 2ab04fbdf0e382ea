"""The webhooks' receivers of the other apps' signals (labeling.signals, classifier.signals),
each recording the event's deliveries (webhooks.services.webhook_event_record)."""

from __future__ import annotations

from classifier.models import HealthCheck, ModelVersion, PredictionJob, TrainingRun
from classifier.signals import (
    health_check_finished,
    model_version_activated,
    prediction_job_finished,
    training_run_finished,
)
from labeling.signals import images_labeled
from webhooks.models import Event
from webhooks.services import webhook_event_record


def _training_run_finished(sender, *, run_id: int, **kwargs) -> None:
    project_id = TrainingRun.objects.values_list("project_id", flat=True).get(pk=run_id)
    webhook_event_record(
        project_id=project_id, event=Event.TRAINING_RUN_FINISHED, object_ids=[run_id]
    )


def _prediction_job_finished(sender, *, job_id: int, **kwargs) -> None:
    project_id = PredictionJob.objects.values_list("project_id", flat=True).get(pk=job_id)
    webhook_event_record(
        project_id=project_id, event=Event.PREDICTION_JOB_FINISHED, object_ids=[job_id]
    )


def _model_version_activated(sender, *, model_version_id: int, **kwargs) -> None:
    project_id = ModelVersion.objects.values_list("project_id", flat=True).get(pk=model_version_id)
    webhook_event_record(
        project_id=project_id, event=Event.MODEL_VERSION_ACTIVATED, object_ids=[model_version_id]
    )


def _health_check_finished(sender, *, check_id: int, **kwargs) -> None:
    project_id = HealthCheck.objects.values_list("project_id", flat=True).get(pk=check_id)
    webhook_event_record(
        project_id=project_id, event=Event.HEALTH_CHECK_FINISHED, object_ids=[check_id]
    )


def _images_labeled(sender, *, project_id: int, image_ids: list[int], **kwargs) -> None:
    webhook_event_record(project_id=project_id, event=Event.IMAGE_LABELED, object_ids=image_ids)


def connect() -> None:
    training_run_finished.connect(_training_run_finished, dispatch_uid="webhooks-training-run")
    prediction_job_finished.connect(_prediction_job_finished, dispatch_uid="webhooks-prediction")
    model_version_activated.connect(_model_version_activated, dispatch_uid="webhooks-version")
    health_check_finished.connect(_health_check_finished, dispatch_uid="webhooks-health-check")
    images_labeled.connect(_images_labeled, dispatch_uid="webhooks-images-labeled")
