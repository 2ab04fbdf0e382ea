"""The health-check pipeline a "training" worker runs (classifier.services.health starts it).

Over every image of the project: the embeddings (from the cache; only images never embedded
go through the backbone), out-of-fold probabilities of the labeled ones and the suspected label
errors they point at (classifier.ml.data_health.label_issues), near-duplicate groups by cosine
similarity of the embeddings and the groups spread over several splits (leaks), and pictures
likely useless (measured on their thumbnails). Findings are handed to
classifier.services.health_check_finish, which replaces the previous check's in one unit.
"""

from __future__ import annotations

import io
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.conf import settings
from PIL import Image as PILImage

from classifier.ml.data_health import (
    duplicate_groups,
    label_issues,
    near_duplicates,
    perceptual_hashes,
    quality_measures,
    quality_problems,
)
from classifier.ml.logistic import DEFAULT_FOLDS, out_of_fold_proba
from classifier.models import (
    DataIssue,
    DataIssueKind,
    HealthCheck,
    LabelCheckDecision,
    LabelCheckReview,
    PictureMeasures,
)
from classifier.services.health import HealthFindings, health_check_finish
from classifier.services.jobs import job_fail
from classifier.worker.embeddings import embeddings_for, stored_file_read
from classifier.worker.jobs import JobAbandoned, JobProgress, job_claim
from classifier.worker.loaded_models import loaded_backbone
from labeling.models import Image, LabelClass, LabelStatus, Project

logger = logging.getLogger(__name__)

# The regularisation of the out-of-fold fits. Stronger than a trained head's default (1.0):
# a head that fits every training label closely also fits the wrong ones, and ranks them
# less surely. On 5% flipped coffee-or-not labels (three seeds, bench/data_health.py)
# 0.3 put 88-90% of the flipped images in the top k, 1.0 83-85%.
OUT_OF_FOLD_C = 0.3


def health_check_execute(*, check_id: int, worker: str = "") -> None:
    """Run a queued health check: embed what is not cached, find, write the findings.

    Progress (0-100) is written at most once a second; a failure marks the check failed with
    the error and leaves the previous findings as they were. Idempotent (job_claim): a
    check whose worker died is simply run again.
    """
    check = job_claim(HealthCheck, check_id, worker=worker)
    if check is None:
        return
    progress = JobProgress(check, time_limit=settings.CLASSIFIER_TRAINING_TIME_LIMIT)
    try:
        findings = health_findings(project=check.project, progress=progress)
        if not health_check_finish(check=check, findings=findings):
            raise JobAbandoned()
    except JobAbandoned:
        logger.info("Health check %s was taken away; stopping.", check_id)
    except Exception as exc:
        logger.exception("Health check %s failed", check_id)
        job_fail(check, f"{type(exc).__name__}: {exc}")


def health_findings(*, project: Project, progress: JobProgress | None = None) -> HealthFindings:
    """Everything a health check finds in the project, as unsaved DataIssue rows."""

    def report(percent: int) -> None:
        if progress is not None:
            progress.update(progress=percent)

    started = time.monotonic()
    images = list(
        Image.objects.filter(project=project)
        .order_by("pk")
        .values(
            "pk", "sha256", "file", "thumbnail", "split", "label_id", "label_status", "width",
            "height",
        )
    )  # fmt: skip
    backbone = loaded_backbone(settings.CLASSIFIER_BACKBONE)
    embeddings = embeddings_for(
        backbone=backbone,
        items=[(row["sha256"], row["file"]) for row in images],
        on_batch=lambda done, total: report(1 + int(59 * done / total)),
    )
    embedded_at = time.monotonic()
    report(60)
    issues = _label_error_issues(project, images, embeddings)
    labels_at = time.monotonic()
    report(65)
    pictures = _pictures_measured(
        images, on_read=lambda done: report(65 + 25 * done // len(images))
    )
    issues += pictures.issues
    pictures_at = time.monotonic()
    report(90)
    issues += _near_duplicate_issues(images, embeddings, pictures.hashes, pictures.mirrored)
    finished = time.monotonic()
    return HealthFindings(
        issues=issues,
        timings={
            "images": len(images),
            "embedding_s": round(embedded_at - started, 3),
            "label_errors_s": round(labels_at - embedded_at, 3),
            "pictures_s": round(pictures_at - labels_at, 3),
            "near_duplicates_s": round(finished - pictures_at, 3),
        },
    )


def _label_error_issues(project: Project, images: list[Any], embeddings: np.ndarray) -> list:
    classes = list(LabelClass.objects.filter(project=project).order_by("order", "id"))
    index_of = {label_class.pk: index for index, label_class in enumerate(classes)}
    rows = [
        row_number
        for row_number, row in enumerate(images)
        if row["label_status"] == LabelStatus.LABELED and row["label_id"] in index_of
    ]
    labels = np.array([index_of[images[row]["label_id"]] for row in rows], dtype=np.int64)
    # Out-of-fold fits need two classes in every fold's training part and a row per fold.
    present = np.bincount(labels, minlength=len(classes)) if len(labels) else np.zeros(0)
    if len(classes) < 2 or (present >= 2).sum() < 2 or len(rows) < DEFAULT_FOLDS:
        return []
    probabilities = out_of_fold_proba(
        embeddings[rows], labels, num_classes=len(classes), c=OUT_OF_FOLD_C
    )
    kept = set(
        LabelCheckReview.objects.filter(
            image__project=project, decision=LabelCheckDecision.KEPT
        ).values_list("image_id", "label_id")
    )
    issues = []
    for suspect in label_issues(probabilities, labels):
        image = images[rows[suspect.row]]
        if (image["pk"], image["label_id"]) in kept:
            continue  # an owner kept this label; suggested again only once it changes
        given, suggested = classes[suspect.given], classes[suspect.suggested]
        issues.append(
            DataIssue(
                kind=DataIssueKind.LABEL_ERROR,
                score=round(suspect.score, 6),
                image_ids=[image["pk"]],
                image_id=image["pk"],
                detail={
                    "given_label_id": given.pk,
                    "given_label": given.name,
                    "given_probability": round(suspect.self_confidence, 6),
                    "suggested_label_id": suggested.pk,
                    "suggested_label": suggested.name,
                    "suggested_probability": round(suspect.suggested_probability, 6),
                },
            )
        )
    return issues


def _near_duplicate_issues(
    images: list[Any], embeddings: np.ndarray, hashes: np.ndarray, mirrored: np.ndarray
) -> list:
    pairs = near_duplicates(embeddings, hashes, mirrored)
    pairs_of: dict[int, list] = {}
    groups = duplicate_groups(len(images), pairs)
    group_of = {row: number for number, group in enumerate(groups) for row in group}
    for i, j, similarity in pairs:
        pairs_of.setdefault(group_of[i], []).append(
            [images[i]["pk"], images[j]["pk"], round(similarity, 4)]
        )
    issues = []
    for number, group in enumerate(groups):
        ids = [images[row]["pk"] for row in group]
        splits = {str(images[row]["pk"]): images[row]["split"] for row in group}
        group_pairs = sorted(pairs_of[number], key=lambda pair: -pair[2])
        detail = {"pairs": group_pairs, "splits": splits}
        score = group_pairs[0][2]
        issues.append(
            DataIssue(kind=DataIssueKind.NEAR_DUPLICATE, score=score, image_ids=ids, detail=detail)
        )
        if len(set(splits.values())) > 1:
            issues.append(
                DataIssue(kind=DataIssueKind.SPLIT_LEAK, score=score, image_ids=ids, detail=detail)
            )
    return issues


@dataclass
class PicturesMeasured:
    issues: list = field(default_factory=list)  # low_quality findings
    hashes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))
    mirrored: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))


def _pictures_measured(images: list[Any], *, on_read) -> PicturesMeasured:
    """Every picture's quality measures (low_quality findings) and perceptual hashes (plain
    and mirrored, for the near-duplicate search): from the PictureMeasures cache, else from
    one read of its thumbnail, then cached."""
    measured = PicturesMeasured(
        hashes=np.zeros(len(images), dtype=np.uint64),
        mirrored=np.zeros(len(images), dtype=np.uint64),
    )
    cached: dict[str, PictureMeasures] = {}
    shas = [row["sha256"] for row in images]
    for start in range(0, len(shas), 500):
        for measures in PictureMeasures.objects.filter(sha256__in=shas[start : start + 500]):
            cached[measures.sha256] = measures
    new: list[PictureMeasures] = []
    for done, row in enumerate(images, start=1):
        found = cached.get(row["sha256"])
        if found is None:
            found = _picture_measure(row)
            if found is not None:
                cached[row["sha256"]] = found
                new.append(found)
        if found is None:
            # Unreadable: a hash from the sha256, as good as random. Two random 64-bit
            # hashes are within 4 bits of each other once in 10^13 pairs (within 16, the
            # embeddings must agree as well).
            measured.hashes[done - 1] = measured.mirrored[done - 1] = int(row["sha256"][:16], 16)
            continue
        measured.hashes[done - 1] = int(found.perceptual_hash, 16)
        measured.mirrored[done - 1] = int(found.mirrored_hash, 16)
        problems = quality_problems(
            {
                "luminance_std": found.luminance_std,
                "laplacian_variance": found.laplacian_variance,
                "width": row["width"],
                "height": row["height"],
            }
        )
        if problems:
            measured.issues.append(
                DataIssue(
                    kind=DataIssueKind.LOW_QUALITY,
                    score=float(len(problems)),
                    image_ids=[row["pk"]],
                    image_id=row["pk"],
                    detail={
                        "problems": problems,
                        "luminance_std": found.luminance_std,
                        "laplacian_variance": found.laplacian_variance,
                        "width": row["width"],
                        "height": row["height"],
                    },
                )
            )
        if done % 50 == 0:
            on_read(done)
    PictureMeasures.objects.bulk_create(new, ignore_conflicts=True, batch_size=500)
    return measured


def _picture_measure(row: dict) -> PictureMeasures | None:
    # The thumbnail: a few kilobytes to decode instead of megabytes, and the scale the
    # measures are defined at (classifier.ml.data_health.QUALITY_MEASURE_SIZE); the hash
    # shrinks every picture to 32x32 anyway.
    name = row["thumbnail"] or row["file"]
    try:
        with PILImage.open(io.BytesIO(stored_file_read(name))) as picture:
            picture.load()
            measures = quality_measures(picture, width=row["width"], height=row["height"])
            plain, mirrored = perceptual_hashes(picture)
    except (FileNotFoundError, OSError) as exc:
        logger.warning("Health check: could not read %s (%s)", name, exc)
        return None
    return PictureMeasures(
        sha256=row["sha256"],
        perceptual_hash=f"{plain:016x}",
        mirrored_hash=f"{mirrored:016x}",
        luminance_std=float(measures["luminance_std"]),
        laplacian_variance=float(measures["laplacian_variance"]),
    )
