"""Predictions on the image page and in the gallery and grid: badges and filters."""

import pytest
from django.urls import reverse

from classifier.models import ModelVersionStatus
from tests.classifier.factories import PredictionFactory
from tests.factories import ImageFactory


def names(response) -> list[str]:
    return [image.original_name for image in response.context["page"].object_list]


def test_the_image_page_shows_every_versions_prediction_with_probabilities(
    client, viewer, predicted_images
):
    client.force_login(viewer)
    response = client.get(reverse("labeling:image-detail", args=[predicted_images["plant"].pk]))
    content = response.content.decode()
    panel = content.split('id="predictions"')[1]
    assert panel.index('data-version="2"') < panel.index('data-version="1"')  # newest first
    v2 = panel.split('data-version="2"')[1].split("</li>")[0]
    assert "active" in v2 and "62.0%" in v2
    assert 'data-class="coffee"' in v2 and 'data-class="other"' in v2
    assert "width: 62.0%" in v2 and "width: 38.0%" in v2
    assert "differs" in v2  # labeled other, predicted coffee
    v1 = panel.split('data-version="1"')[1].split("</li>")[0]
    assert "retired" in v1 and "52.0%" in v1


def test_the_image_page_shows_agreement_with_the_label(client, viewer, predicted_images):
    client.force_login(viewer)
    content = client.get(
        reverse("labeling:image-detail", args=[predicted_images["mug"].pk])
    ).content
    assert b"agrees" in content and b"differs" not in content
    unlabeled = client.get(
        reverse("labeling:image-detail", args=[predicted_images["new"].pk])
    ).content
    assert b"agrees" not in unlabeled and b"differs" not in unlabeled


def test_an_image_without_predictions_says_so(client, viewer, project):
    image = ImageFactory(project=project)
    client.force_login(viewer)
    content = client.get(reverse("labeling:image-detail", args=[image.pk])).content.decode()
    assert 'id="no-predictions"' in content


def test_the_image_page_costs_one_query_for_its_predictions(
    client, viewer, project, versions, predicted_images, django_assert_num_queries
):
    client.force_login(viewer)
    image = ImageFactory(project=project)
    url = reverse("labeling:image-detail", args=[image.pk])
    client.get(url)
    with django_assert_num_queries(7) as without:
        client.get(url)
    for version in versions.values():
        PredictionFactory(image=image, model_version=version)
    with django_assert_num_queries(len(without.captured_queries)):
        client.get(url)


@pytest.mark.parametrize("page", ["labeling:project-gallery", "labeling:project-grid"])
def test_thumbnails_carry_the_active_versions_prediction(
    client, annotator, project, predicted_images, page
):
    client.force_login(annotator)
    content = client.get(reverse(page, args=[project.pk])).content.decode()
    mug = content.split(f'data-image="{predicted_images["mug"].pk}"')[1].split("data-image=")[0]
    assert 'data-predicted="coffee"' in mug and "97%" in mug  # v2's, not v1's 87%
    assert "prediction-disagrees" not in mug
    plant = content.split(f'data-image="{predicted_images["plant"].pk}"')[1].split("data-image=")[0]
    assert "prediction-disagrees" in plant


def test_an_image_the_active_version_has_not_predicted_has_no_badge(client, viewer, project,
                                                                   versions):  # fmt: skip
    ImageFactory(project=project, original_name="fresh.png")
    PredictionFactory(model_version=versions[1])  # an old version's prediction only
    client.force_login(viewer)
    content = client.get(reverse("labeling:project-gallery", args=[project.pk])).content.decode()
    assert "data-predicted" not in content


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("predicted={coffee}", ["mug.png", "plant.png"]),
        ("predicted={other}", ["cat.png", "new.png"]),
        ("confidence_min=80", ["mug.png", "cat.png"]),
        ("confidence_max=60", ["new.png"]),
        ("confidence_min=60&confidence_max=90", ["plant.png", "cat.png"]),
        ("disagreement=disagree", ["plant.png"]),
        ("disagreement=agree", ["mug.png", "cat.png"]),
        ("predicted={coffee}&disagreement=agree", ["mug.png"]),
        ("predicted={other}&label={other}", ["cat.png"]),
        ("confidence_min=101", ["mug.png", "plant.png", "cat.png", "new.png"]),  # invalid: dropped
    ],
)
def test_the_gallery_filters_by_prediction(
    client, viewer, project, predicted_images, query, expected
):
    classes = {c.name: c.pk for c in project.classes.all()}
    client.force_login(viewer)
    response = client.get(
        reverse("labeling:project-gallery", args=[project.pk]) + "?" + query.format(**classes)
    )
    assert names(response) == expected


def test_the_prediction_filters_use_the_active_version_only(
    client, viewer, project, versions, predicted_images
):
    """v1 predicted mug at 0.87; only the active v2's 0.97 counts."""
    client.force_login(viewer)
    url = reverse("labeling:project-gallery", args=[project.pk])
    assert "mug.png" not in names(client.get(url + "?confidence_max=90"))
    versions[2].status = ModelVersionStatus.RETIRED
    versions[2].save()
    versions[1].status = ModelVersionStatus.ACTIVE
    versions[1].save()
    assert "mug.png" in names(client.get(url + "?confidence_max=90"))


def test_the_filter_form_offers_the_prediction_filters(client, viewer, project, predicted_images):
    client.force_login(viewer)
    content = client.get(reverse("labeling:project-gallery", args=[project.pk])).content.decode()
    form = content.split('id="filters"')[1].split("</form>")[0]
    assert 'name="predicted"' in form and "Any prediction" in form
    assert 'name="confidence_min"' in form and 'name="confidence_max"' in form
    assert 'name="disagreement"' in form and "Prediction ≠ label" in form
    predicted = form.split('name="predicted"')[1].split("</select>")[0]
    assert ">coffee</option>" in predicted and ">other</option>" in predicted


def test_the_gallery_costs_a_fixed_number_of_queries_with_predictions(
    client, viewer, project, versions, predicted_images, django_assert_num_queries
):
    client.force_login(viewer)
    url = (
        reverse("labeling:project-gallery", args=[project.pk])
        + "?disagreement=agree&confidence_min=10"
    )
    client.get(url)
    # session, user, project, role, classes, the two class menus, count, the page's ids, its
    # images
    with django_assert_num_queries(10) as before:
        client.get(url)
    for _ in range(10):
        image = ImageFactory(project=project, label=project.classes.first(), label_status="labeled")
        PredictionFactory(image=image, model_version=versions[2], label=project.classes.first())
    with django_assert_num_queries(len(before.captured_queries)):
        response = client.get(url)
    assert len(names(response)) == 12
