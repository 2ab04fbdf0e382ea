"""The export pipeline a "training" worker runs: a version's backbone, head and calibration as
one Keras or TFLite file, and the bundle beside it (classifier.ml.export)."""

from __future__ import annotations

import logging

from django.conf import settings

from classifier.ml import TrainedHead
from classifier.ml.export import bundle, calibrated_classifier, model_file
from classifier.models import ModelExport
from classifier.selectors.versions import unsure_threshold_of
from classifier.services.exports import model_export_finish
from classifier.services.jobs import job_fail
from classifier.worker.jobs import JobAbandoned, JobProgress, job_claim
from classifier.worker.loaded_models import loaded_backbone, loaded_head
from classifier.worker.predictions import class_names_of

logger = logging.getLogger(__name__)


def model_export_execute(*, export_id: int, worker: str = "") -> None:
    """Build a queued export: load the version's backbone (cached) and head, build the model
    and its file, then the bundle; store both (model_export_finish). A failure marks the
    export failed with the reason. Idempotent: see job_claim; a finished export is left as
    it is."""
    export = job_claim(ModelExport, export_id, worker=worker)
    if export is None:
        return
    progress = JobProgress(export, time_limit=settings.CLASSIFIER_TRAINING_TIME_LIMIT)
    try:
        version = export.model_version
        backbone = loaded_backbone(version.backbone)
        head = loaded_head(version)
        if not isinstance(head, TrainedHead):
            raise ValueError("versions trained in the fine-tuning mode cannot be exported yet")
        progress.update(force=True, progress=20)
        model = calibrated_classifier(backbone, head)
        data = model_file(model, export.format)
        progress.update(force=True, progress=80)
        _, names = class_names_of(version)
        project = version.project
        zipped = bundle(
            export_format=export.format,
            labels=names,
            input_size=backbone.input_size,
            backbone_name=backbone.name,
            metrics={
                key: version.metrics.get(key)
                for key in ("accuracy", "loss", "per_class", "confusion_matrix", "class_names")
            },
            calibration={
                key: (version.calibration or {}).get(key)
                for key in ("temperature", "ece_before", "ece_after")
            },
            unsure_threshold=unsure_threshold_of(project=project, version=version),
            description=f"{project.name}, model version {version.version} "
            f"({backbone.name}, exported as {export.get_format_display()}).",
        )
        if not model_export_finish(export=export, model_file=data, bundle=zipped):
            raise JobAbandoned()
    except JobAbandoned:
        logger.info("Export %s was cancelled or taken away; stopping.", export_id)
    except Exception as exc:
        logger.exception("Export %s failed", export_id)
        job_fail(export, f"{type(exc).__name__}: {exc}")
