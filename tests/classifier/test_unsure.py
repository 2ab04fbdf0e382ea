"""A prediction whose calibrated confidence is below the project's threshold (the owner's,
else the active version's default) is "unsure", and says so on the image page, in the gallery's
filter and badges, and in the API; the gallery also lists what two versions classify
differently."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from classifier.image_filters import (
    SURE,
    UNSURE,
    images_filtered_by_prediction,
    images_with_active_prediction,
)
from classifier.models import ModelVersionStatus, Prediction
from classifier.selectors import unsure_threshold_of
from tests.classifier.factories import ModelVersionFactory
from tests.factories import ImageFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def active(project):
    """An active version whose default unsure threshold is 0.8."""
    return ModelVersionFactory(
        project=project,
        version=1,
        status=ModelVersionStatus.ACTIVE,
        calibration={"temperature": 0.8, "unsure_threshold": 0.8},
    )


def predict(image, version, *, confidence: float, label=None) -> Prediction:
    label = label or image.project.classes.first()
    return Prediction.objects.create(
        image=image, model_version=version, label=label, confidence=confidence,
        probabilities={label.name: confidence},
    )  # fmt: skip


def named_images(project, confidences: dict[str, float], version):
    images = {}
    for name, confidence in confidences.items():
        images[name] = ImageFactory(project=project, original_name=f"{name}.png")
        predict(images[name], version, confidence=confidence)
    return images


def filtered(project, **filters) -> set[str]:
    images = images_filtered_by_prediction(project.images.all(), filters=filters)
    return {image.original_name.removesuffix(".png") for image in images}


def test_the_threshold_is_the_versions_default_until_an_owner_sets_one(project, active):
    assert unsure_threshold_of(project=project, version=active) == 0.8

    project.unsure_threshold = 0.6
    assert unsure_threshold_of(project=project, version=active) == 0.6


def test_the_gallery_filters_unsure_and_sure_predictions(project, active):
    named_images(project, {"low": 0.55, "edge": 0.8, "high": 0.97}, active)

    assert filtered(project, certainty=UNSURE) == {"low"}
    assert filtered(project, certainty=SURE) == {"edge", "high"}


def test_the_projects_own_threshold_replaces_the_versions_default(project, active):
    named_images(project, {"low": 0.55, "mid": 0.85, "high": 0.97}, active)
    project.unsure_threshold = 0.9
    project.save()

    assert filtered(project, certainty=UNSURE) == {"low", "mid"}


def test_without_any_threshold_nothing_is_unsure(project):
    version = ModelVersionFactory(project=project, status=ModelVersionStatus.ACTIVE)
    named_images(project, {"low": 0.51}, version)

    assert filtered(project, certainty=UNSURE) == set()
    assert filtered(project, certainty=SURE) == {"low"}


def test_thumbnails_carry_whether_their_prediction_is_unsure(project, active):
    named_images(project, {"low": 0.55, "high": 0.97}, active)

    images = images_with_active_prediction(project.images.order_by("original_name"))

    assert [(image.original_name, image.predicted_unsure) for image in images] == [
        ("high.png", False),
        ("low.png", True),
    ]


def test_the_api_says_which_predictions_are_unsure(project, active, viewer):
    images = named_images(project, {"low": 0.55, "high": 0.97}, active)
    api = APIClient()
    api.force_authenticate(viewer)

    low = api.get(f"/api/images/{images['low'].pk}/predictions/").json()
    high = api.get(f"/api/images/{images['high'].pk}/predictions/").json()

    assert (low[0]["confidence"], low[0]["unsure"]) == (0.55, True)
    assert (high[0]["confidence"], high[0]["unsure"]) == (0.97, False)


def test_the_image_page_marks_an_unsure_prediction(project, active, viewer, client):
    images = named_images(project, {"low": 0.55, "high": 0.97}, active)
    client.force_login(viewer)

    low = client.get(reverse("labeling:image-detail", args=[images["low"].pk])).content.decode()
    high = client.get(reverse("labeling:image-detail", args=[images["high"].pk])).content.decode()

    assert "data-unsure" in low
    assert "data-unsure" not in high


def test_the_gallery_lists_the_images_two_versions_classify_differently(project, active):
    coffee, other = project.classes.order_by("name")
    candidate = ModelVersionFactory(project=project, version=2)
    same, changed, only_active = ImageFactory.create_batch(3, project=project)
    for image, active_label, candidate_label in [
        (same, coffee, coffee), (changed, coffee, other), (only_active, other, None),
    ]:  # fmt: skip
        predict(image, active, confidence=0.9, label=active_label)
        if candidate_label:
            predict(image, candidate, confidence=0.9, label=candidate_label)

    images = images_filtered_by_prediction(
        project.images.all(), filters={"compared_with": candidate.pk}
    )

    assert list(images) == [changed]
