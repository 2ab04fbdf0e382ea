"""Prediction jobs on the web side: asking for predictions, and re-predicting a project.

A prediction job is a PredictionJob row, sent to a prediction worker after commit
(classifier.services.jobs); the worker writes one Prediction per (image, version), or, for
ad-hoc files, the results into the row (classifier.worker.predictions).
"""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Exists, OuterRef
from PIL import Image as PILImage

from classifier.models import (
    ModelVersion,
    ModelVersionStatus,
    Prediction,
    PredictionJob,
    PredictionJobKind,
)
from classifier.services.jobs import job_dispatch_on_commit
from classifier.services.labeling_queue import labeling_queue_refresh_request
from labeling.models import Image, Project
from labelplatform.media_storage import StorageFailure, storage_failure

logger = logging.getLogger(__name__)


def _active_version(project: Project | int) -> ModelVersion | None:
    project_id = project if isinstance(project, int) else project.pk
    return ModelVersion.objects.filter(
        project_id=project_id, status=ModelVersionStatus.ACTIVE
    ).first()


@transaction.atomic
def project_predictions_refresh(*, model_version: ModelVersion) -> list[PredictionJob]:
    """Queue prediction jobs for the project's images the version has not predicted yet.

    Writes "re-predict" PredictionJob rows of at most CLASSIFIER_PREDICTION_JOB_SIZE images
    each, so several prediction workers share a large project; enqueues their messages after
    commit. Predictions are deterministic per (image, version), so images it already
    predicted (e.g. before a rollback) are not predicted again. Returns the jobs.
    """
    image_ids = list(
        Image.objects.filter(project_id=model_version.project_id)
        .exclude(
            Exists(Prediction.objects.filter(image=OuterRef("pk"), model_version=model_version))
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    size = settings.CLASSIFIER_PREDICTION_JOB_SIZE
    return [
        _prediction_job_create(
            model_version=model_version,
            kind=PredictionJobKind.REPREDICT,
            image_ids=image_ids[start : start + size],
            requested_by=None,
        )
        for start in range(0, len(image_ids), size)
    ]


def _prediction_job_create(
    *,
    model_version: ModelVersion,
    kind: str,
    image_ids: Sequence[int] = (),
    inputs: Sequence[dict] = (),
    requested_by: User | None,
) -> PredictionJob:
    job = PredictionJob.objects.create(
        project_id=model_version.project_id,
        model_version=model_version,
        kind=kind,
        image_ids=list(image_ids),
        inputs=list(inputs),
        total=len(image_ids) + len(inputs),
        requested_by=requested_by,
    )
    job_dispatch_on_commit(job)
    return job


@dataclass
class AdHocFile:
    """An uploaded file to predict without storing it as training data."""

    name: str
    file: BinaryIO


def _ad_hoc_check(upload: AdHocFile) -> bytes:
    data = upload.file.read()
    if len(data) > settings.IMAGE_MAX_BYTES:
        raise ValidationError(f"{upload.name}: larger than {settings.IMAGE_MAX_BYTES} bytes.")
    try:
        with PILImage.open(io.BytesIO(data)) as picture:
            if picture.width * picture.height > settings.IMAGE_MAX_PIXELS:
                raise ValidationError(
                    f"{upload.name}: more than {settings.IMAGE_MAX_PIXELS} pixels."
                )
            picture.verify()
    except ValidationError:
        raise
    except Exception as exc:
        # The library's own words ("cannot identify image file") mean nothing to a user.
        raise ValidationError(
            f"{upload.name}: not an image this platform reads (JPEG, PNG, WebP, GIF or BMP)."
        ) from exc
    return data


class AdHocFilesNotStored(Exception):
    """The storage refused an ad-hoc file (full, or unavailable): no job was queued and no
    file of the request is left behind. The API answers 507 or 503 with it."""

    def __init__(self, failure: StorageFailure):
        super().__init__(failure.cause)
        self.failure = failure


def prediction_job_start(
    *,
    project: Project,
    requested_by: User | None,
    image_ids: Sequence[int] | None = None,
    files: Iterable[AdHocFile] | None = None,
    kind: str | None = None,
    model_version: ModelVersion | None = None,
) -> PredictionJob:
    """Queue a prediction of the project's stored images or of ad-hoc files.

    With `image_ids` (images of other projects are refused), the job writes one Prediction
    per (image, version). With `files`, each is checked with Pillow and stored temporarily
    through the storage API under jobs/ (not as training data); the job puts its results in
    the row and deletes the files; should the job not be created, the files are deleted at
    once. The version defaults to the project's active one; ValidationError when there is
    none, or for unknown image ids or unreadable files. Writes the PredictionJob row; its
    message is sent after commit.
    """
    model_version = model_version or _active_version(project)
    if model_version is None or model_version.project_id != project.pk:
        raise ValidationError("This project has no active model yet; train one first.")
    if (image_ids is None) == (files is None):
        raise ValidationError("Give either image_ids or files.")
    if image_ids is not None:
        try:
            wanted = {int(pk) for pk in image_ids}
        except (TypeError, ValueError) as exc:
            raise ValidationError("image_ids must be a list of integers.") from exc
        found = set(
            Image.objects.filter(project=project, pk__in=wanted).values_list("pk", flat=True)
        )
        if not found or found != wanted:
            unknown = sorted(wanted - found)
            raise ValidationError(
                f"Unknown image id(s) in this project: {', '.join(map(str, unknown[:20]))}."
                if unknown
                else "Give at least one image id."
            )
        with transaction.atomic():
            return _prediction_job_create(
                model_version=model_version,
                kind=kind or PredictionJobKind.SELECTED,
                image_ids=sorted(found),
                requested_by=requested_by,
            )

    assert files is not None  # exactly one of image_ids and files, checked above
    checked = [(upload.name, _ad_hoc_check(upload)) for upload in files]
    if not checked:
        raise ValidationError("Give at least one file.")
    # Flat names, not a folder per job: on a file system a folder would be created for every
    # request and stay behind, empty, once the job deletes its files.
    prefix = f"jobs/{uuid.uuid4().hex}"
    inputs = []
    try:
        for index, (name, data) in enumerate(checked):
            path = default_storage.save(f"{prefix}-{index}", ContentFile(data))
            inputs.append({"name": name, "path": path})
        with transaction.atomic():
            return _prediction_job_create(
                model_version=model_version,
                kind=PredictionJobKind.AD_HOC,
                inputs=inputs,
                requested_by=requested_by,
            )
    except BaseException as error:
        for stored in inputs:
            default_storage.delete(stored["path"])
        failure = storage_failure(error)
        if failure is not None:
            raise AdHocFilesNotStored(failure) from error
        raise


def _new_images_predict(sender, *, project: Project, image_ids: Sequence[int], **kwargs) -> None:
    """Receiver of labeling.signals.images_created: the active version predicts new images
    (the prediction job then reorders the labeling queue); without one, the queue's orderings
    are recomputed to take the new images in."""
    if not image_ids:
        return
    model_version = _active_version(project)
    if model_version is None:
        labeling_queue_refresh_request(project_id=project.pk)
        return
    try:
        prediction_job_start(
            project=project,
            requested_by=None,
            image_ids=image_ids,
            kind=PredictionJobKind.NEW_IMAGES,
            model_version=model_version,
        )
    except Exception:
        # The upload has already succeeded; a missing prediction is filled in by the next
        # activation's refresh, so this must not turn the upload into an error.
        logger.exception("Could not queue the prediction of new images in project %s", project.pk)
