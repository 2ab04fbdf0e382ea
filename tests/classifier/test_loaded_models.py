"""The worker's one model cache (classifier.worker.loaded_models), in this process."""

import pytest

from classifier import services
from classifier.models import ModelVersionStatus
from classifier.worker import loaded_models, training_run_execute
from tests.support.labeled_images import FAST_TRAINING

pytestmark = pytest.mark.django_db


def train(project, owner):
    run, _ = services.training_run_start(
        project=project, requested_by=owner, hyperparameters=FAST_TRAINING
    )
    training_run_execute(run_id=run.pk, worker="test@here")
    run.refresh_from_db()
    return run.model_version


def test_a_backbone_is_loaded_once_and_kept(settings):
    # "tiny" is none of classifier.ml's: the worker registers it from the test settings.
    assert "tiny" in settings.CLASSIFIER_EXTRA_BACKBONES

    first = loaded_models.loaded_backbone("tiny")

    assert loaded_models.loaded_backbone() is first  # settings.CLASSIFIER_BACKBONE is tiny
    assert "tiny" in loaded_models.loaded_state()["backbones"]


def test_a_head_is_read_once_and_dropped_once_another_version_is_active(labeled_project, owner):
    project = labeled_project()
    first = train(project, owner)
    head = loaded_models.loaded_head(first)
    assert loaded_models.loaded_head(first) is head

    second = train(project, owner)
    if second.status != ModelVersionStatus.ACTIVE:
        services.model_version_activate(model_version=second, activated_by=owner)
    loaded_models.loaded_head(second)

    assert loaded_models.loaded_state()["model_versions"] == [second.pk]
