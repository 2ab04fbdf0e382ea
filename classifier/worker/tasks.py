"""Celery tasks: thin, idempotent, take ids and call one pipeline or service.

Their names are the ones `classifier.tasks.*` they always had: queued messages, the routes
(settings.CELERY_TASK_ROUTES: training_* to the "training" queue, prediction_* and jobs_* to
"prediction") and beat's schedule name them, and the web sends them by name
(classifier.services.jobs), so it never imports this module.

Time limits travel with each message (classifier.services.jobs.job_dispatch, from
CLASSIFIER_*_TIME_LIMIT). The solo pool the workers run with does not enforce Celery's
limits, so the pipelines also stop themselves at the same limit.
"""

from celery import shared_task

from classifier.services import jobs_reconcile as _jobs_reconcile
from classifier.worker.labeling_queue import labeling_queue_refresh as _labeling_queue_refresh
from classifier.worker.predictions import prediction_job_execute as _prediction_job_execute
from classifier.worker.training import training_run_execute as _training_run_execute


@shared_task(bind=True, name="classifier.tasks.training_run_execute")
def training_run_execute(self, run_id: int) -> None:
    _training_run_execute(run_id=run_id, worker=self.request.hostname or "")


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
