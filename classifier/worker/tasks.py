"""Celery tasks: thin, idempotent, take ids and call one pipeline or service.

Their names are the ones `classifier.tasks.*` they always had: queued messages, the routes
(settings.CELERY_TASK_ROUTES: training_* and health_check_* to the "training" queue,
prediction_* and jobs_* to "prediction") and beat's schedule name them, and the web sends
them by name (classifier.services.jobs), so it never imports this module.

Time limits travel with each message (classifier.services.jobs.job_dispatch, from
CLASSIFIER_*_TIME_LIMIT); classifier.worker.time_limits enforces them under the solo pool.
"""

from celery import shared_task

from classifier.services import jobs_reconcile as _jobs_reconcile
from classifier.worker.exports import model_export_execute as _model_export_execute
from classifier.worker.health import health_check_execute as _health_check_execute
from classifier.worker.labeling_queue import labeling_queue_refresh as _labeling_queue_refresh
from classifier.worker.predictions import prediction_job_execute as _prediction_job_execute
from classifier.worker.training import training_run_execute as _training_run_execute


@shared_task(bind=True, name="classifier.tasks.training_run_execute")
def training_run_execute(self, run_id: int) -> None:
    _training_run_execute(run_id=run_id, worker=self.request.hostname or "")


@shared_task(bind=True, name="classifier.tasks.training_model_export_execute")
def training_model_export_execute(self, export_id: int) -> None:
    """On the training queue: it loads a backbone, like a training run."""
    _model_export_execute(export_id=export_id, worker=self.request.hostname or "")


@shared_task(bind=True, name="classifier.tasks.prediction_job_execute")
def prediction_job_execute(self, job_id: int) -> None:
    _prediction_job_execute(job_id=job_id, worker=self.request.hostname or "")


@shared_task(name="classifier.tasks.prediction_labeling_queue_refresh")
def prediction_labeling_queue_refresh(project_id: int) -> None:
    """Sent after an upload into a project without a model (classifier.services.
    labeling_queue_refresh_request); prediction jobs refresh the queue themselves."""
    _labeling_queue_refresh(project_id=project_id)


@shared_task(name="classifier.tasks.jobs_reconcile")
def jobs_reconcile() -> None:
    """Sent by Celery beat (settings.CELERY_BEAT_SCHEDULE)."""
    _jobs_reconcile()


@shared_task(bind=True, name="classifier.tasks.health_check_execute")
def health_check_execute(self, check_id: int) -> None:
    _health_check_execute(check_id=check_id, worker=self.request.hostname or "")
