"""The Celery app. Configured from Django settings (CELERY_* names). Queues: "training" (one job
at a time), "prediction", and "webhooks" (outbound calls; its worker loads no model).

Which process loads what: the web and Celery beat only send messages, by task name, so they
load no task code at all (beat's schedule names `classifier.tasks.jobs_reconcile`). A `celery
worker` loads the classifier's worker package (its tasks, pipelines and model cache, with
TensorFlow) from the `celeryd_init` signal below, which only the worker program sends.
"""

import os

from celery import Celery
from celery.signals import celeryd_init, task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labelplatform.settings.local")

app = Celery("labelplatform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# Queues whose workers need no model: a worker consuming only these stays light.
MODEL_FREE_QUEUES = frozenset({"webhooks"})


@celeryd_init.connect
def classifier_worker_install(sender, instance, options=None, **kwargs) -> None:
    # Sent once Django is set up and before the worker builds its consumer: the tasks get
    # registered, the model-loading receivers and the consumer step installed. Not for a
    # worker started with `-Q webhooks` only: it would load TensorFlow and a backbone for
    # nothing (no -Q means the default queue, "prediction", which needs them).
    queues = (options or {}).get("queues") or []
    if isinstance(queues, str):
        queues = queues.split(",")
    if queues and set(queues) <= MODEL_FREE_QUEUES:
        return
    from classifier import worker

    worker.install(instance.app)


# Celery's Django fixup closes every database connection before and after each task, so each
# job opened a new one: 3-8 ms on PostgreSQL, a good part of an ad-hoc prediction's overhead.
# With a reuse count it never closes them itself (this bound is never reached) ...
app.conf.CELERY_DB_REUSE_MAX = 2**62


# ... and the receivers below do what Django does around each request instead: close a
# connection that is past CONN_MAX_AGE, broken, or left in a failed transaction; with
# CONN_HEALTH_CHECKS a connection the server dropped (a restart) is replaced before it is used.
@task_prerun.connect
@task_postrun.connect
def close_unusable_database_connections(**kwargs) -> None:
    from django.db import close_old_connections

    close_old_connections()
