"""What a Celery worker process holds in memory, and when it loads it.

- The backbone (settings.CLASSIFIER_BACKBONE) is loaded, and its graph traced, once per
  process before the first job: in each pool child at `worker_process_init` for the prefork
  pool (TensorFlow in the parent before the fork hangs the children), at `worker_init` in the
  main process for the solo and threads pools (what scripts/run.py starts).
- Heads of model versions are loaded from storage on first use and kept per process. Every
  prediction job names its version, and when it loads one the worker drops heads of versions
  that are no longer their project's active one (one indexed query), so activating a version
  swaps the head without restarting anything.
- When the worker is ready it settles jobs a killed worker left "running"; on every
  (re)connection to the broker it sends jobs whose message never reached it.
- `classifier_status` (a remote-control inspect command) reports each worker's queues,
  backbone and loaded versions, for the Jobs page (classifier.selectors.workers_status).

Importing this module is cheap and TensorFlow-free: the web process imports it too (through
the app's ready()), where none of the signals below ever fire.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict

from celery import bootsteps
from celery.signals import worker_init, worker_process_init, worker_ready
from celery.worker.control import inspect_command
from django.conf import settings

logger = logging.getLogger(__name__)

# Heads are small (embedding_dim x classes floats); the bound only stops a long-lived worker
# serving many projects from growing without end.
_MAX_HEADS = 32

_lock = threading.Lock()
_backbones: dict[str, object] = {}
_backbone_load_seconds: dict[str, float] = {}
_heads: OrderedDict[int, object] = OrderedDict()  # model version id → TrainedHead
_head_projects: dict[int, int] = {}  # model version id → project id


def loaded_backbone(name: str | None = None):
    """The backbone, loaded on first call and kept for the life of the process."""
    name = name or settings.CLASSIFIER_BACKBONE
    with _lock:
        if name not in _backbones:
            from classifier.ml import load_backbone

            started = time.monotonic()
            backbone = load_backbone(
                name,
                weights_dir=settings.CLASSIFIER_WEIGHTS_DIR,
                max_batch_size=settings.CLASSIFIER_INFERENCE_BATCH_SIZE,
            )
            # The first inference traces the graph (3 s for efficientnet_lite0): done here,
            # before the first job, so no request waits for it. One trace serves every batch
            # size.
            import numpy

            size = backbone.input_size
            backbone.embed_pixels(numpy.zeros((1, size, size, 3), dtype=numpy.uint8))
            _backbones[name] = backbone
            _backbone_load_seconds[name] = round(time.monotonic() - started, 2)
            logger.info(
                "Loaded backbone %s in %.1f s (pid %s)",
                name,
                _backbone_load_seconds[name],
                os.getpid(),
            )
        return _backbones[name]


def loaded_head(model_version):
    """The version's trained head, read from storage on first use and cached.

    On first use, also drops cached heads of the version's project that are no longer active
    (a version was activated elsewhere since), keeping the one asked for. Only then: after an
    activation the next job of the project names the new version, a first use, so stale heads
    go at once, and a job served from the cache makes no query here.
    """
    from classifier.models import ModelVersion, ModelVersionStatus

    with _lock:
        head = _heads.get(model_version.pk)
        if head is not None:
            _heads.move_to_end(model_version.pk)
            return head
    active_id = (
        ModelVersion.objects.filter(
            project_id=model_version.project_id, status=ModelVersionStatus.ACTIVE
        )
        .values_list("pk", flat=True)
        .first()
    )
    with _lock:
        for version_id, project_id in list(_head_projects.items()):
            if project_id == model_version.project_id and version_id not in (
                active_id,
                model_version.pk,
            ):
                _forget_head(version_id)
        if model_version.pk not in _heads:
            from classifier.ml import load_head  # a linear or a fine-tuned head

            with model_version.artifact.open("rb") as artifact:
                _heads[model_version.pk] = load_head(artifact.read())
            _head_projects[model_version.pk] = model_version.project_id
            logger.info("Loaded head of model version %s (%s)", model_version.pk, model_version)
            while len(_heads) > _MAX_HEADS:
                _forget_head(next(iter(_heads)))
        _heads.move_to_end(model_version.pk)
        return _heads[model_version.pk]


def _forget_head(version_id: int) -> None:
    _heads.pop(version_id, None)
    _head_projects.pop(version_id, None)


def loaded_state() -> dict:
    """What this process holds: {"pid", "backbones": {name: load seconds}, "model_versions"}."""
    with _lock:
        return {
            "pid": os.getpid(),
            "backbones": dict(_backbone_load_seconds),
            "model_versions": list(_heads),
        }


def _pool_is_prefork(worker) -> bool:
    from celery import concurrency

    pool = concurrency.get_implementation(worker.pool_cls)
    return pool.__module__ == "celery.concurrency.prefork"


@worker_init.connect
def _load_in_main_process(sender, **kwargs) -> None:
    if _pool_is_prefork(sender):
        return  # loaded in each child (worker_process_init): never before the fork
    loaded_backbone()


@worker_process_init.connect
def _load_in_pool_child(**kwargs) -> None:
    loaded_backbone()


@worker_ready.connect
def _recover_orphans(sender, **kwargs) -> None:
    from classifier.services import jobs_recover_orphans

    try:
        settled = jobs_recover_orphans(worker=sender.hostname)
        logger.info("Settled orphaned jobs: %s", settled)
    except Exception:
        logger.exception("Could not settle orphaned jobs")


class UnsentJobsDispatch(bootsteps.StartStopStep):
    """Consumer step: send jobs queued while the broker was down, on every (re)connection."""

    requires = ("celery.worker.consumer.connection:Connection",)

    def start(self, consumer) -> None:
        from classifier.services import jobs_dispatch_unsent

        try:
            sent = jobs_dispatch_unsent()
            if sent:
                logger.info("Sent %s job(s) queued while the broker was unreachable", sent)
        except Exception:
            logger.exception("Could not send unsent jobs")


def install(app) -> None:
    """Add the consumer step to the Celery app (once; called from ClassifierConfig.ready)."""
    if UnsentJobsDispatch not in app.steps["consumer"]:
        app.steps["consumer"].add(UnsentJobsDispatch)


@inspect_command()
def classifier_status(state, **kwargs) -> dict:
    """Queues, pool, backbone and loaded model versions of this worker (the Jobs page)."""
    consumer = state.consumer
    queues = (
        [queue.name for queue in consumer.task_consumer.queues] if consumer.task_consumer else []
    )
    # Under the prefork pool this is the parent's state; the models live in the children.
    pool = type(consumer.pool).__module__.rsplit(".", 1)[-1] if consumer.pool else ""
    return {"hostname": consumer.hostname, "queues": queues, "pool": pool, **loaded_state()}
