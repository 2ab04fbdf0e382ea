"""Skips and undo for API clients: POST/GET/DELETE /api/projects/{id}/skips/, the queue
leaving skipped images out, DELETE /api/images/{id}/annotations/ (undo a label), and skips in
the annotator figures."""

import pytest

from labeling.models import Annotation, Image, LabelStatus
from labeling.services import annotation_create, image_skip, image_skips_restore
from tests.factories import ImageFactory, ProjectFactory


@pytest.fixture
def images(project):
    return ImageFactory.create_batch(4, project=project)


def skips_url(project) -> str:
    return f"/api/projects/{project.pk}/skips/"


def queue_ids(client, project) -> list[int]:
    response = client.get(f"/api/projects/{project.pk}/queue/", {"strategy": "sequential"})
    assert response.status_code == 200
    return [item["id"] for item in response.json()["results"]]


def test_a_skipped_image_leaves_the_callers_api_queue(project, annotator, images, api_as):
    client = api_as(annotator)
    response = client.post(skips_url(project), {"image_id": images[0].pk}, format="json")
    assert response.status_code == 201
    assert response.json()["image_id"] == images[0].pk
    assert response.json()["needs_your_label"] is True
    assert queue_ids(client, project) == [image.pk for image in images[1:]]


def test_a_skip_leaves_other_peoples_queues_alone(project, owner, annotator, images, api_as):
    api_as(annotator).post(skips_url(project), {"image_id": images[0].pk}, format="json")
    assert queue_ids(api_as(owner), project)[0] == images[0].pk


def test_skipping_twice_is_one_skip(project, annotator, images, api_as):
    client = api_as(annotator)
    for _ in range(2):
        response = client.post(skips_url(project), {"image_id": images[0].pk}, format="json")
        assert response.status_code == 201
    assert [skip["image_id"] for skip in client.get(skips_url(project)).json()] == [images[0].pk]


def test_an_image_of_another_project_cannot_be_skipped(project, annotator, api_as):
    elsewhere = ImageFactory(project=ProjectFactory())
    response = api_as(annotator).post(skips_url(project), {"image_id": elsewhere.pk}, format="json")
    assert response.status_code == 400
    assert "image_id" in response.json()["detail"]


def test_viewers_cannot_skip(project, viewer, images, api_as):
    response = api_as(viewer).post(skips_url(project), {"image_id": images[0].pk}, format="json")
    assert response.status_code == 403


def test_the_list_is_the_callers_open_skips_oldest_first(project, owner, annotator, images, api_as):
    image_skip(image=images[2], user=annotator)
    image_skip(image=images[0], user=annotator)
    image_skip(image=images[1], user=owner)
    image_skip(image=images[3], user=annotator)
    image_skips_restore(project=project, user=annotator, image_ids=[images[3].pk])
    listed = api_as(annotator).get(skips_url(project)).json()
    assert [skip["image_id"] for skip in listed] == [images[2].pk, images[0].pk]


def test_the_list_says_which_skipped_images_no_longer_need_a_label(
    project, owner, annotator, images, api_as
):
    image_skip(image=images[0], user=annotator)
    image_skip(image=images[1], user=annotator)
    annotation_create(image=images[1], user=owner, label_class=project.classes.first())
    listed = api_as(annotator).get(skips_url(project)).json()
    assert [(skip["image_id"], skip["needs_your_label"]) for skip in listed] == [
        (images[0].pk, True),
        (images[1].pk, False),
    ]


def test_deleting_a_skip_brings_the_image_back(project, annotator, images, api_as):
    client = api_as(annotator)
    client.post(skips_url(project), {"image_id": images[0].pk}, format="json")
    response = client.delete(f"{skips_url(project)}{images[0].pk}/")
    assert response.status_code == 204
    assert queue_ids(client, project)[0] == images[0].pk
    assert client.get(skips_url(project)).json() == []


def test_deleting_a_skip_that_is_not_there_is_a_404(project, annotator, images, api_as):
    response = api_as(annotator).delete(f"{skips_url(project)}{images[0].pk}/")
    assert response.status_code == 404


def test_deleting_all_skips_brings_them_all_back(project, annotator, images, api_as):
    client = api_as(annotator)
    for image in images[:2]:
        client.post(skips_url(project), {"image_id": image.pk}, format="json")
    response = client.delete(skips_url(project))
    assert response.json() == {"restored": 2}
    assert queue_ids(client, project) == [image.pk for image in images]


def test_a_skip_on_the_page_is_a_skip_through_the_api(client, project, annotator, images, api_as):
    client.force_login(annotator)
    client.post(
        f"/projects/{project.pk}/label/skip/",
        {"image": images[0].pk},
        content_type="application/json",
    )
    assert images[0].pk not in queue_ids(api_as(annotator), project)


def test_an_api_client_undoes_its_label(project, owner, annotator, images, api_as):
    coffee = project.classes.first()
    annotation_create(image=images[0], user=owner, label_class=coffee)
    client = api_as(annotator)
    client.post(f"/api/images/{images[0].pk}/annotations/", {"label": "coffee"}, format="json")

    response = client.delete(f"/api/images/{images[0].pk}/annotations/")

    assert response.status_code == 204
    assert list(Annotation.objects.filter(image=images[0]).values_list("user", flat=True)) == [
        owner.pk
    ]


def test_undoing_the_label_returns_the_image_to_the_queue(project, annotator, images, api_as):
    client = api_as(annotator)
    client.post(f"/api/images/{images[0].pk}/annotations/", {"label": "coffee"}, format="json")
    assert images[0].pk not in queue_ids(client, project)
    client.delete(f"/api/images/{images[0].pk}/annotations/")
    assert Image.objects.get(pk=images[0].pk).label_status == LabelStatus.UNLABELED
    assert queue_ids(client, project)[0] == images[0].pk


def test_undoing_a_label_you_did_not_give_is_a_404(project, owner, annotator, images, api_as):
    annotation_create(image=images[0], user=owner, label_class=project.classes.first())
    response = api_as(annotator).delete(f"/api/images/{images[0].pk}/annotations/")
    assert response.status_code == 404
    assert Annotation.objects.count() == 1


def test_the_figures_count_skips_brought_back_but_not_undone_ones(
    project, owner, annotator, images, api_as
):
    client = api_as(annotator)
    for image in images[:3]:
        client.post(skips_url(project), {"image_id": image.pk}, format="json")
    client.delete(f"{skips_url(project)}{images[0].pk}/")  # a mistake, taken back
    image_skips_restore(project=project, user=annotator, image_ids=[images[1].pk])

    rows = api_as(owner).get(f"/api/projects/{project.pk}/annotators/").json()

    row = next(row for row in rows if row["user_id"] == annotator.pk)
    assert (row["labels"], row["skips"], row["skipped_now"]) == (0, 2, 1)


def test_the_figures_count_skips_per_split(project, owner, annotator, api_as):
    on_test = ImageFactory(project=project, split="test")
    on_train = ImageFactory(project=project, split="train")
    for image in (on_test, on_train):
        image_skip(image=image, user=annotator)
    rows = api_as(owner).get(f"/api/projects/{project.pk}/annotators/", {"split": "test"}).json()
    assert [(row["username"], row["skips"]) for row in rows] == [(annotator.username, 1)]
