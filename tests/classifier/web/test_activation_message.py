"""The message after activating (or rolling back to) a version says what actually happens:
a prediction job only when the version has images to predict."""

import pytest
from django.urls import reverse

from classifier.models import ModelVersionStatus, PredictionJob
from tests.classifier.factories import ModelVersionFactory, PredictionFactory
from tests.factories import ImageFactory

# Committed for real: the re-prediction jobs are written after commit, as in production.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def rollback_target(project):
    """v1 retired, having predicted both images; v2 active."""
    images = [ImageFactory(project=project) for _ in range(2)]
    v1 = ModelVersionFactory(project=project, version=1, status=ModelVersionStatus.RETIRED)
    ModelVersionFactory(project=project, version=2, status=ModelVersionStatus.ACTIVE)
    for image in images:
        PredictionFactory(image=image, model_version=v1)
    return v1


def activate(client, owner, version):
    client.force_login(owner)
    response = client.post(
        reverse("classifier:model-version-activate", args=[version.pk]), follow=True
    )
    return [str(message) for message in response.context["messages"]]


def test_rolling_back_to_a_version_that_predicted_everything_needs_no_job(
    client, owner, rollback_target
):
    messages = activate(client, owner, rollback_target)
    assert messages == [
        "Rolled back: Version 1 is active again. It had already predicted every image of the "
        "project, so its predictions show at once; no prediction job was needed."
    ]
    assert not PredictionJob.objects.exists()


def test_rolling_back_says_how_many_images_it_still_predicts(
    client, owner, project, rollback_target
):
    ImageFactory(project=project)  # uploaded after v1 was retired
    messages = activate(client, owner, rollback_target)
    assert messages == [
        "Rolled back: Version 1 is active again. It is predicting the 1 image it had not seen "
        "yet, in the background (see Jobs); its earlier predictions show at once."
    ]


def test_activating_the_active_version_says_nothing_changed(client, owner, project):
    active = ModelVersionFactory(project=project, version=1, status=ModelVersionStatus.ACTIVE)
    messages = activate(client, owner, active)
    assert messages == ["Version 1 was already the active version; nothing changed."]
