"""The worker's one model cache: backbones and heads, loaded once per process and kept.

- The backbone (settings.CLASSIFIER_BACKBONE) is loaded, and its graph traced, once per
  process before the first job (classifier.worker.lifecycle says when). classifier.ml keeps no
  cache of its own: this is the only one.
- Heads of model versions are loaded from storage on first use and kept per process. Every
  prediction job names its version, and when it loads one the worker drops heads of versions
  that are no longer their project's active one (one indexed query), so activating a version
  swaps the head without restarting anything.
- Backbones besides classifier.ml's own (settings.CLASSIFIER_EXTRA_BACKBONES: the tests' tiny
  random network) are registered with classifier.ml before the first load.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict

import numpy
from django.conf import settings
from django.utils.module_loading import import_string

from classifier.ml import Backbone, TrainedHead, load_backbone, load_head, register_backbone
from classifier.ml.fine_tuning import FineTunedHead
from classifier.models import ModelVersion, ModelVersionStatus

logger = logging.getLogger(__name__)

# Heads are small (embedding_dim x classes floats); the bound only stops a long-lived worker
# serving many projects from growing without end.
_MAX_HEADS = 32

_lock = threading.Lock()
_backbones: dict[str, Backbone] = {}
_backbone_load_seconds: dict[str, float] = {}
_heads: OrderedDict[int, TrainedHead | FineTunedHead] = OrderedDict()  # version id -> head
_head_projects: dict[int, int] = {}  # model version id -> project id


def loaded_backbone(name: str | None = None) -> Backbone:
    """The backbone, loaded on first call and kept for the life of the process."""
    name = name or settings.CLASSIFIER_BACKBONE
    with _lock:
        if name not in _backbones:
            for extra, loader in settings.CLASSIFIER_EXTRA_BACKBONES.items():
                register_backbone(extra, import_string(loader))
            started = time.monotonic()
            backbone = load_backbone(
                name,
                weights_dir=settings.CLASSIFIER_WEIGHTS_DIR,
                max_batch_size=settings.CLASSIFIER_INFERENCE_BATCH_SIZE,
            )
            # The first inference traces the graph (3 s for efficientnet_lite0): done here,
            # before the first job, so no request waits for it. One trace serves every batch
            # size.
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


def loaded_head(model_version: ModelVersion) -> TrainedHead | FineTunedHead:
    """The version's trained head, read from storage on first use and cached.

    On first use, also drops cached heads of the version's project that are no longer active
    (a version was activated elsewhere since), keeping the one asked for. Only then: after an
    activation the next job of the project names the new version, a first use, so stale heads
    go at once, and a job served from the cache makes no query here.
    """
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
            with model_version.artifact.open("rb") as artifact:
                _heads[model_version.pk] = load_head(artifact.read())  # linear or fine-tuned
            _head_projects[model_version.pk] = model_version.project_id
            logger.info("Loaded head of model version %s (%s)", model_version.pk, model_version)
            while len(_heads) > _MAX_HEADS:
                _forget_head(next(iter(_heads)))
        _heads.move_to_end(model_version.pk)
        return _heads[model_version.pk]


def _forget_head(version_id: int) -> None:
    _heads.pop(version_id, None)
    _head_projects.pop(version_id, None)


def heads_forget() -> None:
    """Drop every cached head (the tests, whose database hands out the same ids again)."""
    with _lock:
        _heads.clear()
        _head_projects.clear()


def loaded_state() -> dict:
    """What this process holds: {"pid", "backbones": {name: load seconds}, "model_versions"}."""
    with _lock:
        return {
            "pid": os.getpid(),
            "backbones": dict(_backbone_load_seconds),
            "model_versions": list(_heads),
        }
