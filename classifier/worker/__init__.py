"""The worker side of the classifier: imported by Celery worker processes only.

labelplatform.celery imports it from Celery's `celeryd_init` signal, which only `celery
worker` sends: not the web process, not Celery beat (which sends the reconciliation by task
name), not `celery inspect`. So TensorFlow, which these modules import at the top through
classifier.ml, stays out of every other process; a test (test_web_never_imports_tensorflow)
checks the web's side, another beat's.

- `tasks`: the Celery tasks, under their stable names `classifier.tasks.*`.
- `training`, `predictions`, `exports`, `health`: the `*_execute` pipelines the tasks run.
- `jobs`: claiming a job's row and writing its progress (the heartbeat).
- `embeddings`: reading stored photos and the embedding cache.
- `labeling_queue`: the labeling queue's orderings, recomputed after prediction jobs.
- `loaded_models`: the one model cache (backbones and heads).
- `lifecycle`: when the model is loaded, orphans settled, unsent jobs sent; `install`.

It imports classifier.services (the rows it writes); classifier.services never imports it.
"""

from classifier.worker import tasks
from classifier.worker.exports import model_export_execute
from classifier.worker.health import health_check_execute
from classifier.worker.lifecycle import install
from classifier.worker.loaded_models import loaded_backbone, loaded_head
from classifier.worker.predictions import prediction_job_execute
from classifier.worker.training import training_run_execute

__all__ = [
    "health_check_execute",
    "install",
    "loaded_backbone",
    "loaded_head",
    "model_export_execute",
    "prediction_job_execute",
    "tasks",
    "training_run_execute",
]
