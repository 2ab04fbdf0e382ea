"""The labeling queue's orderings, computed by a prediction worker so that no request ranks a
project's images.

`labeling_queue_refresh` ranks the images that still need labels for every strategy but
sequential (which is upload order, read straight off the images' index) and stores the first
CLASSIFIER_LABELING_QUEUE_DEPTH of each as LabelingQueuePlace rows. It runs at the end of a
prediction job of stored images (when no other one of the project is still queued or
running: a re-prediction of a large project is many jobs, and only the last needs to rank),
and after an upload into a project without a model (for the random order).

How each strategy ranks, over the active version's predictions (classifier.ml.sampling):

- random: a permutation of the images needing labels (no model needed);
- least_confidence, margin, entropy: the most uncertain prediction first;
- diversity: k-center greedy over the cached embeddings of the
  CLASSIFIER_LABELING_QUEUE_CANDIDATES most uncertain images, with (a sample of at most as
  many of) the labeled images as the first centers: each next image is the one least like
  anything labeled or queued before it;
- balanced: round-robin over the predicted classes, fewest labels first, least confident
  first within a class;
- warm_start: the random order until the active version was trained on enough train labels
  (classifier.ml.sampling.warm_start_is_over), least confidence from then on. It asks what
  the version was trained on, not what is labeled now: a version trained on ten labels stays a
  poor judge however many labels were added since.

Images the active version has not predicted yet are left to the upload-order tail.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Count

from classifier.ml import sampling
from classifier.models import (
    UNFINISHED_STATUSES,
    Embedding,
    LabelingQueuePlace,
    ModelVersion,
    ModelVersionStatus,
    Prediction,
    PredictionJob,
    PredictionJobKind,
)
from labeling.models import Image, LabelStatus, Project, QueueStrategy

logger = logging.getLogger(__name__)

NEEDING_LABELS = (LabelStatus.UNLABELED, LabelStatus.CONFLICT)
# Each k-center pick costs a pass over every candidate's embedding: the first few hundred
# picks are what annotators reach before the next prediction job reorders the queue anyway.
DIVERSITY_PICKS = 300
# Sequential is upload order, read off the images' own index: nothing to store.
STORED_STRATEGIES = tuple(s for s in QueueStrategy.values if s != QueueStrategy.SEQUENTIAL)


def labeling_queue_refresh_after_job(job: PredictionJob) -> None:
    """After a prediction job of stored images: refresh the project's orderings, unless
    another such job of the project is still to finish (it will refresh when it does)."""
    if job.kind == PredictionJobKind.AD_HOC:
        return
    others = (
        PredictionJob.objects.filter(project_id=job.project_id, status__in=UNFINISHED_STATUSES)
        .exclude(kind=PredictionJobKind.AD_HOC)
        .exclude(pk=job.pk)
    )
    if others.exists():
        return
    labeling_queue_refresh(project_id=job.project_id)


def labeling_queue_refresh(*, project_id: int) -> dict[str, int]:
    """Recompute the project's stored orderings; returns {strategy: places stored}.

    Replaces the project's LabelingQueuePlace rows in one transaction, so a reader sees the
    old orderings or the new ones, never a mix. Idempotent: the same rows give the same
    orderings (random included: its seed is the project's id).
    """
    started = time.perf_counter()
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        return {}
    depth = settings.CLASSIFIER_LABELING_QUEUE_DEPTH
    pool = list(
        Image.objects.filter(project=project, label_reviewed=False, label_status__in=NEEDING_LABELS)
        .order_by("created_at", "pk")
        .values_list("pk", "sha256")
    )
    pool_ids = np.array([pk for pk, _ in pool], dtype=np.int64)
    places: list[LabelingQueuePlace] = []

    def store(strategy: str, image_ids: np.ndarray, order: np.ndarray, **columns) -> None:
        """Places for the first `depth` of `order` (positions into image_ids); a column given
        as an array holds one value per position, any other value is the same for all."""
        for rank, position in enumerate(order[:depth]):
            values = {name: _value(column, position) for name, column in columns.items()}
            if values.get("label_id") == -1:  # the predicted class was deleted since
                values["label_id"] = None
            places.append(
                LabelingQueuePlace(
                    project_id=project.pk,
                    strategy=strategy,
                    rank=rank,
                    image_id=int(image_ids[position]),
                    **values,
                )
            )

    random_order = sampling.random_order(len(pool_ids), seed=project.pk)
    store(QueueStrategy.RANDOM.value, pool_ids, random_order)

    active = ModelVersion.objects.filter(project=project, status=ModelVersionStatus.ACTIVE).first()
    predicted = _predictions_of_pool(active, project) if active is not None else None
    warmed_up = active is not None and sampling.warm_start_is_over(
        _train_labels_seen(active), len(active.class_ids)
    )
    if not (warmed_up and predicted is not None):
        store(QueueStrategy.WARM_START.value, pool_ids, random_order)
    if active is not None and predicted is not None:
        image_ids = predicted.image_ids
        common = {
            "model_version": active,
            "label_id": predicted.label_ids,
            "confidence": predicted.confidence,
        }
        scores = {}
        for measure in sampling.UNCERTAINTY_MEASURES:
            scores[measure] = sampling.uncertainty_scores(predicted.probabilities, measure)
            order = np.argsort(-scores[measure], kind="stable")
            store(measure, image_ids, order, score=scores[measure], **common)
            if measure == "least_confidence" and warmed_up:
                store(QueueStrategy.WARM_START.value, image_ids, order, **common)
        # The predicted classes as 0..k-1, counted against the labels each has so far.
        classes, predicted_class = np.unique(predicted.label_ids, return_inverse=True)
        labeled = _labeled_per_class(project)
        balanced = sampling.class_balanced_order(
            predicted_class,
            scores["least_confidence"],
            [labeled.get(label_id, 0) for label_id in classes],
        )
        store(QueueStrategy.BALANCED.value, image_ids, balanced, **common)
        diverse = _diversity_order(active, project, predicted, dict(pool))
        store(QueueStrategy.DIVERSITY.value, image_ids, diverse, **common)

    with transaction.atomic():
        LabelingQueuePlace.objects.filter(project=project).delete()
        LabelingQueuePlace.objects.bulk_create(places, batch_size=2000)
    stored = dict.fromkeys(STORED_STRATEGIES, 0)
    for place in places:
        stored[place.strategy] += 1
    logger.info(
        "Labeling queue of project %s: %d images need labels, %s stored in %.0f ms",
        project.pk,
        len(pool_ids),
        stored,
        (time.perf_counter() - started) * 1000,
    )
    return stored


def _value(values, position):
    if isinstance(values, np.ndarray):
        value = values[position]
        return value.item() if isinstance(value, np.generic) else value
    return values


@dataclass
class PoolPredictions:
    """The active version's predictions of the images needing labels, oldest image first."""

    image_ids: np.ndarray  # (n,)
    label_ids: np.ndarray  # (n,) the predicted class's id, -1 if that class was deleted
    confidence: np.ndarray  # (n,) the top probability
    probabilities: np.ndarray  # (n, classes)


def _predictions_of_pool(active: ModelVersion, project: Project) -> PoolPredictions | None:
    """None when the version has predicted none of them (yet)."""
    rows = list(
        Prediction.objects.filter(
            model_version=active,
            image__project=project,
            image__label_reviewed=False,
            image__label_status__in=NEEDING_LABELS,
        )
        .order_by("image__created_at", "image_id")
        .values_list("image_id", "label_id", "confidence", "probabilities")
    )
    if not rows:
        return None
    # Columns by class name, as the rows store them (JSON objects keep no order).
    names = list(dict.fromkeys(name for *_, probabilities in rows for name in probabilities))
    column = {name: index for index, name in enumerate(names)}
    confidence = np.array([row[2] for row in rows], dtype=np.float64)
    if names:
        matrix = np.zeros((len(rows), len(names)), dtype=np.float64)
        for row_index, (*_, probabilities) in enumerate(rows):
            for name, probability in probabilities.items():
                matrix[row_index, column[name]] = probability
    else:  # rows without probabilities: the top one is all there is
        matrix = confidence[:, None]
    return PoolPredictions(
        image_ids=np.array([row[0] for row in rows], dtype=np.int64),
        label_ids=np.array([-1 if row[1] is None else row[1] for row in rows], dtype=np.int64),
        confidence=confidence,
        probabilities=matrix,
    )


def _train_labels_seen(version: ModelVersion) -> int:
    """The train labels the version was trained on (its counts, {split: {class: images}})."""
    return sum((version.counts or {}).get("train", {}).values())


def _labeled_per_class(project: Project) -> dict[int, int]:
    return {
        row["label"]: row["count"]
        for row in Image.objects.filter(project=project, label_status=LabelStatus.LABELED)
        .order_by()
        .values("label")
        .annotate(count=Count("pk"))
    }


def _diversity_order(
    active: ModelVersion, project: Project, predicted: PoolPredictions, sha_of: dict[int, str]
) -> np.ndarray:
    """Positions into predicted.image_ids in k-center greedy order over the cached
    embeddings (see the module docstring); images without a cached embedding are left out."""
    limit = settings.CLASSIFIER_LABELING_QUEUE_CANDIDATES
    candidates = sampling.uncertainty_order(predicted.probabilities, "least_confidence")[:limit]
    candidate_shas = [sha_of[int(predicted.image_ids[position])] for position in candidates]
    labeled_shas = list(
        Image.objects.filter(project=project, label_status=LabelStatus.LABELED)
        .order_by("pk")
        .values_list("sha256", flat=True)
    )
    if len(labeled_shas) > limit:
        chosen = np.random.default_rng(project.pk).choice(len(labeled_shas), limit, replace=False)
        labeled_shas = [labeled_shas[index] for index in sorted(chosen)]
    vectors = _cached_embeddings(active.backbone, candidate_shas + labeled_shas)
    kept = [index for index, sha in enumerate(candidate_shas) if sha in vectors]
    if not kept:
        return np.zeros(0, dtype=np.int64)
    candidate_matrix = np.stack([vectors[candidate_shas[index]] for index in kept])
    centers = [vectors[sha] for sha in labeled_shas if sha in vectors]
    picked = sampling.k_center_greedy(
        candidate_matrix,
        np.stack(centers) if centers else None,
        min(settings.CLASSIFIER_LABELING_QUEUE_DEPTH, DIVERSITY_PICKS),
    )
    return candidates[np.array(kept, dtype=np.int64)[picked]]


def _cached_embeddings(backbone: str, shas: list[str]) -> dict[str, np.ndarray]:
    vectors: dict[str, np.ndarray] = {}
    wanted = list(dict.fromkeys(shas))
    for start in range(0, len(wanted), 500):
        for sha, blob in Embedding.objects.filter(
            backbone=backbone, sha256__in=wanted[start : start + 500]
        ).values_list("sha256", "vector"):
            vectors[sha] = np.frombuffer(bytes(blob), dtype="<f4")
    return vectors
