"""The prediction pipeline a "prediction" worker runs: stored images or ad-hoc files through
the version's head, in capped batches, the results written as they come."""

from __future__ import annotations

import logging
import time

import numpy as np
from django.conf import settings
from django.core.files.storage import default_storage
from django.utils import timezone

from classifier.models import (
    JobStatus,
    ModelVersion,
    Prediction,
    PredictionJob,
    PredictionJobKind,
)
from classifier.services.jobs import job_fail, job_finished_signal_send
from classifier.worker.embeddings import embeddings_for, stored_file_read, stored_files_read
from classifier.worker.jobs import JobAbandoned, JobProgress, job_claim, job_let_go
from classifier.worker.labeling_queue import labeling_queue_refresh_after_job
from classifier.worker.loaded_models import loaded_backbone, loaded_head
from labeling.models import Image, LabelClass

logger = logging.getLogger(__name__)


def prediction_job_execute(*, job_id: int, worker: str = "") -> None:
    """Run a queued prediction job.

    Stored images: batches of CLASSIFIER_INFERENCE_BATCH_SIZE through the embedding cache
    and the version's head, one Prediction per (image, version) upserted, progress and
    done counts after each batch. Ad-hoc files: results in the row, files deleted from
    storage whatever happens. Timings (ms) in `timings`. Failure: the row says why.
    Idempotent: see job_claim; running it twice writes the same predictions.
    """
    job = job_claim(PredictionJob, job_id, worker=worker)
    if job is None:
        return
    progress = JobProgress(job, time_limit=settings.CLASSIFIER_PREDICTION_TIME_LIMIT)
    try:
        timings = _prediction_job_predict(job, progress)
        now = timezone.now()
        succeeded = PredictionJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
            status=JobStatus.SUCCEEDED,
            progress=100,
            done=job.total,
            timings=timings,
            results=job.results,
            finished_at=now,
            heartbeat_at=now,
            updated_at=now,
        )
        if succeeded:
            job_finished_signal_send(job)
        # The new predictions reorder the labeling queue (after the job is marked done, so
        # a failure here never fails a prediction; the queue then keeps its old order).
        try:
            labeling_queue_refresh_after_job(job)
        except Exception:
            logger.exception("Could not refresh the labeling queue of project %s", job.project_id)
    except JobAbandoned:
        logger.info("Prediction job %s was cancelled; stopping.", job_id)
    except Exception as exc:
        logger.exception("Prediction job %s failed", job_id)
        job_fail(job, f"{type(exc).__name__}: {exc}")
    finally:
        for stored in job.inputs:
            default_storage.delete(stored["path"])
        job_let_go(PredictionJob, job_id, worker=worker)


def class_names_of(model_version: ModelVersion) -> tuple[list[LabelClass | None], list[str]]:
    # Current names, so a renamed class shows its new name; the training-time name if the
    # class was deleted since.
    classes = LabelClass.objects.in_bulk(model_version.class_ids)
    trained_names = model_version.metrics.get("class_names") or [
        str(pk) for pk in model_version.class_ids
    ]
    ordered = [classes.get(pk) for pk in model_version.class_ids]
    names = [c.name if c else trained for c, trained in zip(ordered, trained_names, strict=True)]
    return ordered, names


def _prediction_job_predict(job: PredictionJob, progress: JobProgress) -> dict[str, float]:
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    model_version = job.model_version
    head = loaded_head(model_version)
    backbone = loaded_backbone(model_version.backbone)
    timings["load_model_ms"] = (time.perf_counter() - clock) * 1000
    classes, names = class_names_of(model_version)
    timings.update(read_ms=0.0, inference_ms=0.0, write_ms=0.0)

    batch_size = settings.CLASSIFIER_INFERENCE_BATCH_SIZE
    # A run after the first follows a worker that died under this job, perhaps because of
    # one of its inputs (out of memory on it): this run goes one input at a time and records
    # each before it starts, so should it die too, the row names the input
    # (classifier.services.jobs.job_poisoned_message).
    careful = job.runs > 1
    if careful:
        batch_size = 1
    if job.kind == PredictionJobKind.AD_HOC:
        job.results = []
        for start in range(0, len(job.inputs), batch_size):
            batch = job.inputs[start : start + batch_size]
            if careful:
                progress.update(force=True, done=start)
            clock = time.perf_counter()
            blobs = [stored_file_read(item["path"]) for item in batch]
            timings["read_ms"] += (time.perf_counter() - clock) * 1000
            clock = time.perf_counter()
            probabilities = head.predict_images(backbone, blobs)
            timings["inference_ms"] += (time.perf_counter() - clock) * 1000
            for item, row in zip(batch, probabilities, strict=True):
                top = int(row.argmax())
                job.results.append(
                    {
                        "name": item["name"],
                        "label": names[top],
                        "confidence": float(row[top]),
                        "probabilities": {
                            name: float(p) for name, p in zip(names, row, strict=True)
                        },
                    }
                )
            done = start + len(batch)
            progress.update(done=done, progress=min(99, int(100 * done / max(job.total, 1))))
        return timings

    # `done` counts images whose predictions are written: a run again starts after them.
    done = job.done if careful else 0
    for start in range(done, len(job.image_ids), batch_size):
        batch_ids = job.image_ids[start : start + batch_size]
        if careful:
            progress.update(force=True, done=start)
        clock = time.perf_counter()
        rows = list(
            Image.objects.filter(pk__in=batch_ids)
            .order_by("pk")
            .values_list("pk", "sha256", "file")
        )
        timings["read_ms"] += (time.perf_counter() - clock) * 1000
        clock = time.perf_counter()
        if not rows:
            probabilities = np.empty((0, len(names)), dtype=np.float32)
        elif head.reads_embeddings:  # a linear head: the embedding cache serves
            embeddings = embeddings_for(backbone=backbone, items=[(s, n) for _, s, n in rows])
            probabilities = head.predict_proba(embeddings)
        else:  # a fine-tuned head: its own top blocks over the photos' lower-block features
            probabilities = head.predict_images(
                backbone, stored_files_read([n for _, _, n in rows])
            )
        timings["inference_ms"] += (time.perf_counter() - clock) * 1000
        clock = time.perf_counter()
        predictions = []
        for (image_id, _, _), row in zip(rows, probabilities, strict=True):
            top = int(row.argmax())
            predictions.append(
                Prediction(
                    image_id=image_id,
                    model_version=model_version,
                    label=classes[top],
                    confidence=float(row[top]),
                    probabilities={name: float(p) for name, p in zip(names, row, strict=True)},
                )
            )
        Prediction.objects.bulk_create(
            predictions,
            update_conflicts=True,
            unique_fields=["image", "model_version"],
            update_fields=["label", "confidence", "probabilities", "created_at"],
        )
        timings["write_ms"] += (time.perf_counter() - clock) * 1000
        done += len(batch_ids)
        progress.update(done=done, progress=min(99, int(100 * done / max(job.total, 1))))
    return timings
