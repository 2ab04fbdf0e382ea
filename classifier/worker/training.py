"""The training pipeline a "training" worker runs: embed, train, evaluate, hand over.

`training_run_execute` claims the run's row, embeds the labeled images through the embedding
cache (or, in the slower fine-tuning mode, reads the photos themselves), trains a head with
early stopping on the validation split, evaluates it on the test split, and hands the artifact
and metrics to classifier.services.training_run_finish, which writes the version and promotes
it in one transaction.
"""

from __future__ import annotations

import logging
import time

import numpy as np
from django.conf import settings

from classifier.ml import FineTunedHead, TrainedHead, evaluate, fine_tune, train_head
from classifier.ml.hyperparameters import (
    FINE_TUNE_LEARNING_RATE,
    FINE_TUNE_MAX_EPOCHS,
    FINE_TUNE_PATIENCE,
    Hyperparameters,
)
from classifier.models import Embedding, TrainingPhase, TrainingRun
from classifier.services.jobs import job_fail
from classifier.services.training import (
    TrainingSet,
    training_run_finish,
    training_set_check,
    training_set_for,
)
from classifier.worker.embeddings import embeddings_for, stored_files_read
from classifier.worker.jobs import JobAbandoned, JobProgress, job_claim, job_let_go
from classifier.worker.loaded_models import loaded_backbone
from labeling.models import Split

logger = logging.getLogger(__name__)


def training_run_execute(*, run_id: int, worker: str = "") -> None:
    """Run a queued training: embed, train, evaluate, write the version.

    Writes progress (phase, epoch, 0-100) to the run row at most once a second. Embeds the
    labeled images through the embedding cache, so a retrain embeds only new images; trains
    a head on the train split with early stopping on validation; evaluates on test. At the
    end, in one transaction (training_run_finish): the artifact, the ModelVersion and its
    promotion, the run marked succeeded. A failure anywhere marks the run failed with the
    error and leaves every version as it was; a cancelled run stops at its next progress
    write and writes nothing. Idempotent: see job_claim.
    """
    run = job_claim(TrainingRun, run_id, worker=worker)
    if run is None:
        return
    progress = JobProgress(run, time_limit=settings.CLASSIFIER_TRAINING_TIME_LIMIT)
    try:
        _training_run_train(run, progress)
    except JobAbandoned:
        logger.info("Training run %s was cancelled or taken away; stopping.", run_id)
    except Exception as exc:
        logger.exception("Training run %s failed", run_id)
        job_fail(run, f"{type(exc).__name__}: {exc}")
    finally:
        job_let_go(TrainingRun, run_id, worker=worker)


def _training_run_train(run: TrainingRun, progress: JobProgress) -> None:
    started = time.monotonic()
    # Runs written before a setting existed get its default.
    hyperparameters = {**Hyperparameters().as_dict(), **run.hyperparameters}
    backbone_name = hyperparameters.pop("backbone", settings.CLASSIFIER_BACKBONE)
    training_set_check(project=run.project)
    training_set = training_set_for(project=run.project)
    progress.update(force=True, phase=TrainingPhase.EMBEDDING, progress=1)

    backbone = loaded_backbone(backbone_name)
    cached_before = Embedding.objects.filter(
        backbone=backbone.name, sha256__in=[row[1] for row in training_set.images]
    ).count()
    labels = np.array([row[4] for row in training_set.images], dtype=np.int64)
    splits = np.array([row[3] for row in training_set.images])
    y = {split: labels[splits == split] for split in Split.values}
    head: TrainedHead | FineTunedHead
    if hyperparameters["fine_tune_blocks"]:
        # The top blocks change, so neither the cached embeddings nor new ones serve: the
        # photos themselves go through the frozen lower blocks inside fine_tune.
        cached_before = 0
        blobs = stored_files_read(
            [row[2] for row in training_set.images],
            on_read=lambda done, total: progress.update(progress=1 + int(19 * done / total)),
        )
        images = {split: [b for b, s in zip(blobs, splits, strict=True) if s == split]
                  for split in Split.values}  # fmt: skip
        embedded_at = time.monotonic()
        progress.update(force=True, phase=TrainingPhase.TRAINING, progress=20, epoch=0)
        head = fine_tune(
            backbone,
            train_images=images[Split.TRAIN],
            train_y=y[Split.TRAIN],
            val_images=images[Split.VALIDATION],
            val_y=y[Split.VALIDATION],
            num_classes=len(training_set.class_ids),
            trainable_blocks=hyperparameters["fine_tune_blocks"],
            learning_rate=FINE_TUNE_LEARNING_RATE,
            batch_size=hyperparameters["batch_size"],
            max_epochs=FINE_TUNE_MAX_EPOCHS,
            patience=FINE_TUNE_PATIENCE,
            seed=hyperparameters["seed"],
            on_epoch=EpochProgress(
                progress,
                max_epochs=FINE_TUNE_MAX_EPOCHS,
                patience=FINE_TUNE_PATIENCE,
                start_percent=20,
            ),
        )

        def probabilities_of(split: str):
            return head.predict_images(backbone, images[split])
    else:
        embeddings = embeddings_for(
            backbone=backbone,
            items=[(sha, name) for _, sha, name, _, _ in training_set.images],
            on_batch=lambda done, total: progress.update(progress=1 + int(59 * done / total)),
        )
        embedded_at = time.monotonic()
        x = {split: embeddings[splits == split] for split in Split.values}
        progress.update(force=True, phase=TrainingPhase.TRAINING, progress=60, epoch=0)
        head = train_head(
            train_x=x[Split.TRAIN],
            train_y=y[Split.TRAIN],
            val_x=x[Split.VALIDATION],
            val_y=y[Split.VALIDATION],
            num_classes=len(training_set.class_ids),
            learning_rate=hyperparameters["learning_rate"],
            batch_size=hyperparameters["batch_size"],
            max_epochs=hyperparameters["max_epochs"],
            patience=hyperparameters["patience"],
            seed=hyperparameters["seed"],
            on_epoch=EpochProgress(
                progress,
                max_epochs=hyperparameters["max_epochs"],
                patience=hyperparameters["patience"],
            ),
        )

        def probabilities_of(split: str):
            return head.predict_proba(x[split])

    trained_at = time.monotonic()
    epochs_run = len(head.history.get("loss", []))
    progress.update(force=True, phase=TrainingPhase.EVALUATING, progress=95, epoch=epochs_run)
    metrics = _metrics(head, probabilities_of, y, training_set)
    metrics.update(
        timings={
            "embedding_s": round(embedded_at - started, 3),
            "training_s": round(trained_at - embedded_at, 3),
            "evaluating_s": round(time.monotonic() - trained_at, 3),
        },
        embedded={"cached": cached_before, "new": len(training_set.images) - cached_before},
    )
    progress.update(force=True, progress=99)
    version = training_run_finish(
        run=run,
        backbone=backbone.name,
        artifact=head.to_bytes(),
        metrics=_json_safe(metrics),
        hyperparameters={**hyperparameters, **head.hyperparameters},
        training_set=training_set,
    )
    if version is None:
        raise JobAbandoned()


def _metrics(head, probabilities_of, y: dict, training_set: TrainingSet) -> dict:
    """The test split's metrics (classifier.ml.evaluate), with the validation split's accuracy
    and loss, the training history and the class names beside them."""
    names = training_set.class_names
    metrics = evaluate(probabilities_of(Split.TEST), y[Split.TEST], names)
    validation = evaluate(probabilities_of(Split.VALIDATION), y[Split.VALIDATION], names)
    metrics.update(
        validation_accuracy=validation["accuracy"],
        validation_loss=validation["loss"],
        history=head.history,
        best_epoch=head.best_epoch,
        class_names=names,
    )
    return metrics


class EpochProgress:
    """on_epoch for the fit (epochs counted from 1): progress from `start_percent` (60 for a
    head on embeddings, 20 when fine-tuning) to 95 through training.

    Early stopping ends training `patience` epochs after the best validation loss, usually
    long before max_epochs, so the expected end moves with the best epoch; progress never
    goes backwards.
    """

    def __init__(
        self, progress: JobProgress, *, max_epochs: int, patience: int, start_percent: int = 60
    ):
        self.progress = progress
        self.max_epochs, self.patience = max_epochs, patience
        self.best_loss, self.best_epoch = float("inf"), 0
        self.start, self.percent = start_percent, start_percent

    def __call__(self, epoch: int, logs: dict) -> None:
        if logs.get("val_loss", float("inf")) < self.best_loss:
            self.best_loss, self.best_epoch = logs["val_loss"], epoch
        expected_end = min(self.max_epochs, max(epoch, self.best_epoch + self.patience))
        self.percent = max(self.percent, self.start + int((95 - self.start) * epoch / expected_end))
        self.progress.update(epoch=epoch, progress=min(self.percent, 95))


def _json_safe(value):
    """numpy scalars and arrays → plain JSON values."""
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    if hasattr(value, "tolist"):
        return _json_safe(value.tolist())
    return value
