"""When a worker process loads its model, and what it does when it starts or reconnects.

- The backbone (settings.CLASSIFIER_BACKBONE) is loaded once per process before the first
  job: in each pool child at `worker_process_init` for the prefork pool (a model loaded in
  the parent before the fork hangs the children), at `worker_init` in the main process for the
  solo and threads pools (what scripts/run.py and docker-compose.yml start).
- When the worker is ready it settles jobs a killed worker left "running"; on every
  (re)connection to the broker it sends jobs whose message never reached it.
- `classifier_status` (a remote-control inspect command) reports each worker's queues,
  backbone and loaded versions, for the Jobs page (classifier.selectors.workers_status).

`install(app)` wires all of it; labelplatform.celery calls it from Celery's `celeryd_init`
signal, which only `celery worker` sends.
"""

from __future__ import annotations

import logging

from celery import Celery, bootsteps, concurrency
from celery.signals import worker_init, worker_process_init, worker_ready
from celery.worker.control import inspect_command

from classifier.services import jobs_dispatch_unsent, jobs_recover_orphans
from classifier.worker import time_limits
from classifier.worker.loaded_models import loaded_backbone, loaded_state

logger = logging.getLogger(__name__)


def _pool_is_prefork(worker) -> bool:
    pool = concurrency.get_implementation(worker.pool_cls)
    return pool.__module__ == "celery.concurrency.prefork"


def _load_in_main_process(sender, **kwargs) -> None:
    if _pool_is_prefork(sender):
        return  # loaded in each child (worker_process_init): never before the fork
    loaded_backbone()


def _load_in_pool_child(**kwargs) -> None:
    loaded_backbone()


def _recover_orphans(sender, **kwargs) -> None:
    try:
        settled = jobs_recover_orphans(worker=sender.hostname)
        logger.info("Settled orphaned jobs: %s", settled)
    except Exception:
        logger.exception("Could not settle orphaned jobs")


class UnsentJobsDispatch(bootsteps.StartStopStep):
    """Consumer step: send jobs queued while the broker was down, on every (re)connection."""

    requires = ("celery.worker.consumer.connection:Connection",)

    def start(self, consumer) -> None:
        try:
            sent = jobs_dispatch_unsent()
            if sent:
                logger.info("Sent %s job(s) queued while the broker was unreachable", sent)
        except Exception:
            logger.exception("Could not send unsent jobs")


def classifier_status(state, **kwargs) -> dict:
    """Queues, pool, backbone and loaded model versions of this worker (the Jobs page)."""
    consumer = state.consumer
    queues = (
        [queue.name for queue in consumer.task_consumer.queues] if consumer.task_consumer else []
    )
    # Under the prefork pool this is the parent's state; the models live in the children.
    pool = type(consumer.pool).__module__.rsplit(".", 1)[-1] if consumer.pool else ""
    return {"hostname": consumer.hostname, "queues": queues, "pool": pool, **loaded_state()}


def install(app: Celery) -> None:
    """Make this process a classifier worker: connect the receivers above, add the consumer
    step and the inspect command. Before the worker builds its blueprint (celeryd_init);
    calling it twice changes nothing."""
    worker_init.connect(_load_in_main_process, dispatch_uid="classifier-load-main")
    worker_process_init.connect(_load_in_pool_child, dispatch_uid="classifier-load-child")
    worker_ready.connect(_recover_orphans, dispatch_uid="classifier-recover-orphans")
    time_limits.install()
    if UnsentJobsDispatch not in app.steps["consumer"]:
        app.steps["consumer"].add(UnsentJobsDispatch)
    inspect_command()(classifier_status)
