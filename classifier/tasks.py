"""Celery tasks: thin, idempotent, take ids and call one service.

Routed by name (settings.CELERY_TASK_ROUTES): training_* to the "training" queue,
prediction_* and jobs_* to "prediction". Imported by the web process too (autodiscovery), so nothing
here imports TensorFlow; the services import classifier.ml inside the worker-side functions.

Time limits travel with each message (classifier.services._job_dispatch, from
CLASSIFIER_*_TIME_LIMIT). The solo pool the workers run with does not enforce Celery's
limits, so the services also stop themselves at the same limit.
"""

from celery import shared_task

from classifier import services


@shared_task(bind=True, name="classifier.tasks.training_run_execute")
def training_run_execute(self, run_id: int) -> None:
    services.training_run_execute(run_id=run_id, worker=self.request.hostname or "")


@shared_task(bind=True, name="classifier.tasks.prediction_job_execute")
def prediction_job_execute(self, job_id: int) -> None:
    services.prediction_job_execute(job_id=job_id, worker=self.request.hostname or "")


@shared_task(name="classifier.tasks.jobs_reconcile")
def jobs_reconcile() -> None:
    """Sent by Celery beat (settings.CELERY_BEAT_SCHEDULE)."""
    services.jobs_reconcile()
