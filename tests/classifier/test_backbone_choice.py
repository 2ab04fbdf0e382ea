"""A project chooses the backbone its models embed with; a run may ask for another; an unknown
name is refused with the valid ones listed (service and API)."""

import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from classifier import services
from classifier.models import TrainingRun

pytestmark = pytest.mark.django_db


def test_the_platforms_default_backbone_is_efficientnet_lite2():
    from labelplatform.settings import base

    assert base.CLASSIFIER_BACKBONE == "efficientnet_lite2"


def test_a_run_trains_on_the_projects_backbone(labeled_project, owner):
    project = labeled_project()
    project.backbone = "efficientnet_lite1"
    project.save()

    run, _ = services.training_run_start(project=project, requested_by=owner)

    assert run.hyperparameters["backbone"] == "efficientnet_lite1"


def test_a_run_without_a_project_choice_trains_on_the_platforms(labeled_project, owner):
    run, _ = services.training_run_start(project=labeled_project(), requested_by=owner)

    assert run.hyperparameters["backbone"] == "tiny"  # the tests' CLASSIFIER_BACKBONE


def test_a_backbone_asked_for_overrides_the_projects(labeled_project, owner):
    project = labeled_project()
    project.backbone = "efficientnet_lite1"
    project.save()

    run, _ = services.training_run_start(
        project=project, requested_by=owner, backbone="efficientnet_lite0"
    )

    assert run.hyperparameters["backbone"] == "efficientnet_lite0"


def test_an_unknown_backbone_is_refused_with_the_valid_ones(labeled_project, owner):
    with pytest.raises(ValidationError) as error:
        services.training_run_start(
            project=labeled_project(), requested_by=owner, backbone="resnet_9000"
        )

    assert error.value.messages == [
        "Unknown backbone 'resnet_9000'; valid backbones: efficientnet_lite0, "
        "efficientnet_lite1, efficientnet_lite2, mobilenet_v2, tiny."
    ]
    assert not TrainingRun.objects.exists()


def test_the_api_starts_a_run_on_the_backbone_asked_for(labeled_project, owner):
    project = labeled_project()
    api = APIClient()
    api.force_authenticate(owner)

    response = api.post(
        f"/api/projects/{project.pk}/training-runs/",
        {"backbone": "efficientnet_lite2"},
        format="json",
    )

    assert response.status_code == 202, response.json()
    run = TrainingRun.objects.get(pk=response.json()["id"])
    assert run.hyperparameters["backbone"] == "efficientnet_lite2"


def test_the_api_answers_an_unknown_backbone_with_a_400_listing_the_valid_ones(
    labeled_project, owner
):
    api = APIClient()
    api.force_authenticate(owner)

    response = api.post(
        f"/api/projects/{labeled_project().pk}/training-runs/",
        {"backbone": "vgg16"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["detail"].startswith("Unknown backbone 'vgg16'; valid backbones:")
    assert "efficientnet_lite2" in response.json()["detail"]


def test_fine_tuning_is_refused_on_a_project_whose_backbone_cannot_be_fine_tuned(
    labeled_project, owner
):
    project = labeled_project()
    project.backbone = "efficientnet_lite2"
    project.save()

    with pytest.raises(ValidationError, match="Fine-tuning needs the efficientnet_lite0"):
        services.training_run_start(
            project=project, requested_by=owner, hyperparameters={"fine_tune_blocks": 2}
        )
