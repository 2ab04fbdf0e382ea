"""Exports of model versions: asking for one (web) and storing what a worker built.

`model_export_start` writes the job row and sends it to the training queue after commit; a
training worker builds the files (classifier.worker.exports) and hands them to
`model_export_finish`. One row per (version, format): the files are built once and kept.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from classifier.models import ExportFormat, JobStatus, ModelExport, ModelVersion
from classifier.services.jobs import (
    job_dispatch_on_commit,
    job_fail,
    job_is_stale,
    job_worker_lost_message,
)

# The model file's name per format (classifier.ml.export.FILE_NAMES says the same worker-side).
EXPORT_FILE_NAMES: dict[str, str] = {
    ExportFormat.KERAS: "model.keras",
    ExportFormat.TFLITE: "model.tflite",
}


@transaction.atomic
def model_export_start(
    *, model_version: ModelVersion, export_format: str, requested_by: User | None
) -> tuple[ModelExport, bool]:
    """Ask for the version as a `export_format` file ("keras" or "tflite"). Returns (export,
    created).

    An export already built, queued or running is returned as it is (created=False; a queued
    one whose message never reached the broker is sent again). A failed or cancelled one, or
    one whose worker went silent, is queued again (created=True). Otherwise a new row, sent
    to the training queue after commit. ValidationError for an unknown format or a version
    whose head cannot be exported (a fine-tuned one carries its own blocks).
    """
    if export_format not in ExportFormat.values:
        raise ValidationError(
            f"Unknown export format {export_format!r}; formats: {', '.join(ExportFormat.values)}."
        )
    if model_version.hyperparameters.get("mode") == "fine_tune":
        raise ValidationError("Versions trained in the fine-tuning mode cannot be exported yet.")
    export, created = ModelExport.objects.select_for_update().get_or_create(
        model_version=model_version,
        format=export_format,
        defaults={"requested_by": requested_by},
    )
    if created:
        job_dispatch_on_commit(export)
        return export, True
    if export.status == JobStatus.RUNNING and job_is_stale(export):
        job_fail(export, job_worker_lost_message(export))
        export.refresh_from_db()
    if export.status in (JobStatus.FAILED, JobStatus.CANCELLED):
        export.status, export.progress, export.error = JobStatus.QUEUED, 0, ""
        export.enqueued_at, export.started_at, export.finished_at = None, None, None
        export.requested_by = requested_by
        export.save()
        job_dispatch_on_commit(export)
        return export, True
    if export.status == JobStatus.QUEUED and export.enqueued_at is None:
        job_dispatch_on_commit(export)
    return export, False


def model_export_finish(*, export: ModelExport, model_file: bytes, bundle: bytes) -> bool:
    """Store the files a worker built and mark the export succeeded, in one transaction.
    Returns False, storing nothing, when the export is no longer running (cancelled, or taken
    over). On a failure the stored files are deleted again."""
    stored: list[str] = []
    try:
        with transaction.atomic():
            locked = ModelExport.objects.select_for_update().filter(pk=export.pk).first()
            if locked is None or locked.status != JobStatus.RUNNING:
                return False
            locked.file.save(EXPORT_FILE_NAMES[locked.format], ContentFile(model_file), save=False)
            stored.append(locked.file.name)
            locked.bundle.save("bundle.zip", ContentFile(bundle), save=False)
            stored.append(locked.bundle.name)
            now = timezone.now()
            locked.status, locked.progress = JobStatus.SUCCEEDED, 100
            locked.finished_at = locked.heartbeat_at = now
            locked.save()
            return True
    except BaseException:
        for name in stored:
            default_storage.delete(name)
        raise
