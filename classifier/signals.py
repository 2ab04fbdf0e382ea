"""Signals the classifier sends when its jobs and versions change state, so other apps (the
webhooks) can react without the classifier importing them.

Each is sent once the transaction that wrote the change has committed
(labeling.signals.signal_send_on_commit), with the row's id only: receivers read the row as
it is then. A failing receiver is logged and never fails the job or request that sent it.
"""

from django.dispatch import Signal

from labeling.signals import signal_send_on_commit

__all__ = [
    "health_check_finished",
    "model_version_activated",
    "prediction_job_finished",
    "signal_send_on_commit",
    "training_run_finished",
]

# sender=TrainingRun, `run_id`: the run succeeded, failed or was cancelled.
training_run_finished = Signal()
# sender=PredictionJob, `job_id`: the job succeeded or failed.
prediction_job_finished = Signal()
# sender=ModelVersion, `model_version_id`: the version became its project's active one (a
# promotion after training, an owner's activation or a rollback).
model_version_activated = Signal()
# sender=HealthCheck, `check_id`: the data-health check succeeded (its findings are written)
# or failed.
health_check_finished = Signal()
