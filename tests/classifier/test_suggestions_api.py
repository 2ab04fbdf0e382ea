"""The suggestions in the API: on an image, in bulk accept and its undo, on the project,
in annotations and exports."""

import csv
import io
import json

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from classifier import services
from labeling.models import Annotation, Image, Split
from tests.classifier.suggestions_support import predicted_image
from tests.factories import ImageFactory


@pytest.fixture
def api_as(db):
    def client_for(user) -> APIClient:
        client = APIClient()
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return client_for


def test_an_image_carries_its_suggestion(api_as, project, viewer):
    image = predicted_image(project, label="coffee", confidence=0.91)

    body = api_as(viewer).get(f"/api/images/{image.pk}/").json()

    assert body["suggestion"] == {"label": "coffee", "confidence": 0.91}


def test_a_blind_images_suggestion_is_null(api_as, project, viewer):
    image = predicted_image(project, label="coffee", confidence=0.91, split=Split.TEST)

    assert api_as(viewer).get(f"/api/images/{image.pk}/").json()["suggestion"] is None


def test_annotations_say_whether_they_came_from_a_suggestion(api_as, project, annotator, owner):
    image = predicted_image(project, label="coffee", confidence=0.91)
    coffee = project.classes.get(name="coffee")
    services.suggestion_accept(image=image, user=annotator, label_class_id=coffee.pk)
    api_as(owner).post(f"/api/images/{image.pk}/annotations/", {"label": "coffee"}, format="json")

    annotations = api_as(owner).get(f"/api/images/{image.pk}/").json()["annotations"]

    assert {(a["user"], a["from_suggestion"]) for a in annotations} == {
        (annotator.username, True),
        (owner.username, False),
    }


def test_the_exports_say_whose_annotation_came_from_a_suggestion(api_as, project, annotator, owner):
    image = predicted_image(project, label="coffee", confidence=0.91)
    services.suggestion_accept(
        image=image, user=annotator, label_class_id=project.classes.get(name="coffee").pk
    )

    rows = list(
        csv.DictReader(
            io.StringIO(
                b"".join(
                    api_as(owner).get(f"/api/projects/{project.pk}/export/?format=csv")
                ).decode()
            )
        )
    )
    exported = json.loads(
        b"".join(api_as(owner).get(f"/api/projects/{project.pk}/export/?format=json"))
    )

    assert rows[0]["suggestions_accepted_by"] == annotator.username
    assert exported["images"][0]["annotations"][0]["from_suggestion"] is True


def test_the_project_says_where_suggestions_show_and_owners_change_it(api_as, project, owner):
    url = f"/api/projects/{project.pk}/"
    assert api_as(owner).get(url).json()["suggestions"] == {
        "train": True,
        "validation": True,
        "test": False,
    }

    response = api_as(owner).patch(url, {"suggestions": {"test": True}}, format="json")

    assert response.status_code == 200
    assert response.json()["suggestions"] == {"train": True, "validation": True, "test": True}


def test_annotators_do_not_change_where_suggestions_show(api_as, project, annotator):
    response = api_as(annotator).patch(
        f"/api/projects/{project.pk}/", {"suggestions": {"test": True}}, format="json"
    )

    assert response.status_code == 403


def test_a_misspelt_split_is_refused(api_as, project, owner):
    response = api_as(owner).patch(
        f"/api/projects/{project.pk}/", {"suggestions": {"tset": True}}, format="json"
    )

    assert response.status_code == 400
    assert "tset" in json.dumps(response.json())


def test_a_project_is_created_with_its_suggestion_splits(api_as, owner):
    response = api_as(owner).post(
        "/api/projects/",
        {"name": "Blind", "classes": ["a", "b"], "suggestions": {"train": False}},
        format="json",
    )

    assert response.json()["suggestions"] == {"train": False, "validation": True, "test": False}


def accept_url(project) -> str:
    return f"/api/projects/{project.pk}/suggestions/accept/"


def test_bulk_accept_by_confidence(api_as, project, annotator):
    predicted_image(project, label="coffee", confidence=0.97)
    predicted_image(project, label="other", confidence=0.5)
    mine = predicted_image(project, label="other", confidence=0.99)
    api_as(annotator).post(
        f"/api/images/{mine.pk}/annotations/", {"label": "coffee"}, format="json"
    )

    body = api_as(annotator).post(accept_url(project), {"min_confidence": 0.95}, format="json")

    assert body.status_code == 200
    assert (body.json()["accepted"], body.json()["skipped"]) == (1, 1)
    assert Annotation.objects.filter(user=annotator, from_suggestion=True).count() == 1


def test_bulk_accept_by_confidence_within_one_split(api_as, project, annotator):
    predicted_image(project, label="coffee", confidence=0.97)
    validation = predicted_image(project, label="coffee", confidence=0.97, split=Split.VALIDATION)

    body = (
        api_as(annotator)
        .post(accept_url(project), {"min_confidence": 0.9, "split": "validation"}, format="json")
        .json()
    )

    assert (body["accepted"], body["skipped"]) == (1, 0)
    assert list(Annotation.objects.values_list("image_id", flat=True)) == [validation.pk]


def test_bulk_accept_by_ids(api_as, project, annotator):
    predicted = predicted_image(project, label="coffee", confidence=0.6)
    unpredicted = ImageFactory(project=project)

    body = (
        api_as(annotator)
        .post(accept_url(project), {"image_ids": [predicted.pk, unpredicted.pk]}, format="json")
        .json()
    )

    assert (body["accepted"], body["skipped"]) == (1, 1)


def test_bulk_accept_needs_ids_or_a_threshold(api_as, project, annotator):
    response = api_as(annotator).post(accept_url(project), {}, format="json")

    assert response.status_code == 400


def test_viewers_accept_nothing(api_as, project, viewer):
    predicted_image(project, label="coffee", confidence=0.99)

    response = api_as(viewer).post(accept_url(project), {"min_confidence": 0.5}, format="json")

    assert response.status_code == 403
    assert not Annotation.objects.exists()


def test_a_bulk_accept_is_undone_through_its_batch(api_as, project, annotator):
    predicted_image(project, label="coffee", confidence=0.99)
    batch = (
        api_as(annotator)
        .post(accept_url(project), {"min_confidence": 0.9}, format="json")
        .json()["batch"]
    )

    body = api_as(annotator).post(f"/api/annotation-batches/{batch}/undo/").json()

    assert body == {"undone": 1, "kept": 0}
    assert not Annotation.objects.exists()
    assert Image.objects.get().label_status == "unlabeled"


def test_somebody_elses_batch_does_not_exist_for_you(api_as, project, annotator, owner):
    predicted_image(project, label="coffee", confidence=0.99)
    batch = (
        api_as(annotator)
        .post(accept_url(project), {"min_confidence": 0.9}, format="json")
        .json()["batch"]
    )

    assert api_as(owner).post(f"/api/annotation-batches/{batch}/undo/").status_code == 404
    assert Annotation.objects.count() == 1
