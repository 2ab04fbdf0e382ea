"""Fixtures for the classifier's pages and admin: versions with realistic metrics, jobs in
every state, and the users of the permission matrix."""

import pytest
from django.utils import timezone

from classifier.models import JobStatus, ModelVersionStatus, PredictionJobKind, TrainingPhase
from labeling.models import LabelStatus
from tests.classifier.factories import (
    PredictionFactory,
    PredictionJobFactory,
    TrainingRunFactory,
    make_version,
)
from tests.factories import ImageFactory, UserFactory


@pytest.fixture
def staff(db):
    """A staff user who belongs to no project (staff act as owners everywhere)."""
    return UserFactory(username="sam-staff", is_staff=True, is_superuser=True)


@pytest.fixture
def versions(project):
    """v1 retired, v2 active, v3 a candidate that did not beat v2."""
    return {
        1: make_version(
            project, 1, ModelVersionStatus.RETIRED, 0.91, 0.9,
            status_reason="Retired: v2 had a better validation accuracy.",
        ),
        2: make_version(
            project, 2, ModelVersionStatus.ACTIVE, 0.975, 0.97,
            status_reason="Activated: validation accuracy 0.970 beat v1's 0.900.",
            activated_at=timezone.now(),
        ),
        3: make_version(
            project, 3, ModelVersionStatus.CANDIDATE, 0.95, 0.94,
            status_reason="Candidate: validation accuracy 0.940 did not beat active v2's 0.970.",
        ),
    }  # fmt: skip


@pytest.fixture
def jobs(project, versions, owner):
    """A running training, a failed one, and prediction jobs queued, running and done."""
    # Oldest first: the failed run, then the running one (no run can start after an
    # unfinished one).
    return {
        "failed": TrainingRunFactory(
            project=project,
            status=JobStatus.FAILED,
            error="MemoryError: the worker ran out of memory while embedding",
            started_at=timezone.now(),
            finished_at=timezone.now(),
        ),
        "running": TrainingRunFactory(
            project=project,
            requested_by=owner,
            status=JobStatus.RUNNING,
            phase=TrainingPhase.TRAINING,
            epoch=7,
            progress=72,
            hyperparameters={"max_epochs": 200},
            started_at=timezone.now(),
            worker="training@host",
            heartbeat_at=timezone.now(),
        ),
        "predicting": PredictionJobFactory(
            model_version=versions[2],
            kind=PredictionJobKind.REPREDICT,
            status=JobStatus.RUNNING,
            total=500,
            done=128,
            progress=25,
            started_at=timezone.now(),
        ),
        "predicted": PredictionJobFactory(
            model_version=versions[2],
            kind=PredictionJobKind.NEW_IMAGES,
            status=JobStatus.SUCCEEDED,
            total=3,
            done=3,
            progress=100,
            started_at=timezone.now(),
            finished_at=timezone.now(),
        ),
    }


@pytest.fixture
def predicted_images(project, versions):
    """Three labeled images and one unlabeled, each predicted by v1 and v2 (the active one):
    mug (coffee, predicted coffee 0.97), plant (other, predicted coffee 0.62: a disagreement),
    cat (other, predicted other 0.88), new (unlabeled, predicted other 0.55)."""
    coffee, other = project.classes.get(name="coffee"), project.classes.get(name="other")
    rows = [
        ("mug.png", coffee, coffee, 0.97),
        ("plant.png", other, coffee, 0.62),
        ("cat.png", other, other, 0.88),
        ("new.png", None, other, 0.55),
    ]
    images = {}
    for name, label, predicted, confidence in rows:
        image = ImageFactory(
            project=project,
            original_name=name,
            label=label,
            label_status=LabelStatus.LABELED if label else LabelStatus.UNLABELED,
        )
        for version, shift in ((versions[1], -0.1), (versions[2], 0.0)):
            p = round(confidence + shift, 2)
            rest = round(1 - p, 2)
            PredictionFactory(
                image=image,
                model_version=version,
                label=predicted,
                confidence=p,
                probabilities={
                    predicted.name: p,
                    (other if predicted == coffee else coffee).name: rest,
                },
            )
        images[name.removesuffix(".png")] = image
    return images
