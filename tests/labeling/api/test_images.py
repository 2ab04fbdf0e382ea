import pytest

from labeling.models import Annotation, LabelStatus, Split
from labeling.services import annotation_create
from tests.factories import ImageFactory, ProjectFactory
from tests.support.responses import assert_json_error


@pytest.fixture
def images(project, owner):
    """Five images: two labeled coffee in train, one other in test, two unlabeled in validation."""
    coffee, other = project.classes.all()
    made = [ImageFactory(project=project, split=Split.TRAIN) for _ in range(2)]
    made.append(ImageFactory(project=project, split=Split.TEST))
    made += [ImageFactory(project=project, split=Split.VALIDATION) for _ in range(2)]
    for image, label in zip(made, [coffee, coffee, other], strict=False):
        annotation_create(image=image, user=owner, label_class=label)
    return made


def ids(response) -> list[int]:
    return [item["id"] for item in response.json()["results"]]


def test_an_image_shows_its_file_its_label_and_its_annotations(api_as, project, owner, images):
    image = images[0]
    body = api_as(owner).get(f"/api/images/{image.pk}/").json()
    assert body["url"] == f"http://testserver/media/images/{image.pk}/"
    assert body["thumbnail_url"] == f"http://testserver/media/thumbnails/{image.pk}/"
    assert (body["id"], body["project"], body["width"], body["height"]) == (
        image.pk,
        project.pk,
        32,
        24,
    )
    assert (body["split"], body["label"], body["label_status"]) == ("train", "coffee", "labeled")
    assert [(a["user"], a["label"]) for a in body["annotations"]] == [(owner.username, "coffee")]


def test_an_unlabeled_image_has_no_label(api_as, owner, images):
    body = api_as(owner).get(f"/api/images/{images[-1].pk}/").json()
    assert (body["label"], body["label_status"], body["annotations"]) == (None, "unlabeled", [])


def test_images_are_listed_oldest_first_and_paginated(api_as, project, owner, images):
    client = api_as(owner)
    first = client.get(f"/api/projects/{project.pk}/images/?page_size=2").json()
    assert first["count"] == 5
    assert [i["id"] for i in first["results"]] == [images[0].pk, images[1].pk]
    second = client.get(first["next"]).json()
    assert [i["id"] for i in second["results"]] == [images[2].pk, images[3].pk]


def test_a_page_past_the_end_is_a_404(api_as, project, owner, images):
    assert_json_error(api_as(owner).get(f"/api/projects/{project.pk}/images/?page=9"), 404)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("split=train", [0, 1]),
        ("split=validation", [3, 4]),
        ("label=coffee", [0, 1]),
        ("label=other", [2]),
        ("status=unlabeled", [3, 4]),
        ("status=labeled&split=test", [2]),
        ("status=conflict", []),
    ],
)
def test_images_are_filtered_by_split_label_and_status(
    api_as, project, owner, images, query, expected
):
    response = api_as(owner).get(f"/api/projects/{project.pk}/images/?{query}")
    assert ids(response) == [images[index].pk for index in expected]


@pytest.mark.parametrize(
    ("query", "field"),
    [("split=training", "split"), ("status=done", "status"), ("label=tea", "label")],
)
def test_a_bad_filter_is_a_400(api_as, project, owner, query, field):
    response = api_as(owner).get(f"/api/projects/{project.pk}/images/?{query}")
    assert_json_error(response, 400)
    assert field in response.json()["detail"]


def test_a_label_filter_names_the_projects_classes_when_unknown(api_as, project, owner):
    response = api_as(owner).get(f"/api/projects/{project.pk}/images/?label=tea")
    assert response.json()["detail"]["label"] == [
        "Unknown class 'tea'; this project's classes are coffee, other."
    ]


def test_listing_images_takes_the_same_queries_for_few_or_many(
    api_as, project, owner, annotator, django_assert_num_queries
):
    client = api_as(owner)
    coffee = project.classes.first()
    url = f"/api/projects/{project.pk}/images/"

    def add_annotated_images(count):
        for _ in range(count):
            image = ImageFactory(project=project)
            annotation_create(image=image, user=owner, label_class=coffee)
            annotation_create(image=image, user=annotator, label_class=coffee)

    add_annotated_images(2)
    # token, project, role, count, the page's ids, images (label, uploader), annotations
    # (user, class)
    with django_assert_num_queries(7):
        client.get(url)
    add_annotated_images(8)
    with django_assert_num_queries(7):
        assert len(client.get(url).json()["results"]) == 10


def test_an_owner_moves_an_image_to_another_split(api_as, owner, images):
    response = api_as(owner).patch(f"/api/images/{images[0].pk}/", {"split": "test"}, format="json")
    assert response.status_code == 200
    assert response.json()["split"] == "test"
    images[0].refresh_from_db()
    assert images[0].split == Split.TEST


@pytest.mark.parametrize("payload", [{"split": "training"}, {}, {"split": None}])
def test_a_bad_split_is_a_400_and_changes_nothing(api_as, owner, images, payload):
    response = api_as(owner).patch(f"/api/images/{images[0].pk}/", payload, format="json")
    assert_json_error(response, 400)
    assert "split" in response.json()["detail"]
    images[0].refresh_from_db()
    assert images[0].split == Split.TRAIN


def test_an_annotation_labels_the_image(api_as, annotator, images):
    image = images[-1]
    response = api_as(annotator).post(
        f"/api/images/{image.pk}/annotations/", {"label": "other"}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["image"], body["user"], body["label"]) == (image.pk, annotator.username, "other")
    image.refresh_from_db()
    assert (image.label.name, image.label_status) == ("other", LabelStatus.LABELED)


def test_annotating_again_replaces_your_label(api_as, owner, images):
    image = images[0]
    response = api_as(owner).post(
        f"/api/images/{image.pk}/annotations/", {"label": "other"}, format="json"
    )
    assert response.status_code == 201
    assert list(Annotation.objects.filter(image=image).values_list("label_class__name")) == [
        ("other",)
    ]


def test_a_class_of_another_project_is_a_400(api_as, owner, images):
    ProjectFactory(classes=["cat", "dog"])
    response = api_as(owner).post(
        f"/api/images/{images[-1].pk}/annotations/", {"label": "cat"}, format="json"
    )
    assert_json_error(response, 400)
    assert response.json()["detail"]["label"] == [
        "Unknown class 'cat'; this project's classes are coffee, other."
    ]
    assert not Annotation.objects.filter(image=images[-1]).exists()


def test_stats_count_every_split_class_and_status(api_as, project, viewer, images):
    body = api_as(viewer).get(f"/api/projects/{project.pk}/stats/").json()
    assert body["total"] == 5
    assert body["splits"] == {
        "train": {"total": 2, "labeled": 2, "unlabeled": 0, "conflict": 0},
        "validation": {"total": 2, "labeled": 0, "unlabeled": 2, "conflict": 0},
        "test": {"total": 1, "labeled": 1, "unlabeled": 0, "conflict": 0},
    }
    counts = {(r["split"], r["label"], r["status"]): r["count"] for r in body["counts"]}
    assert len(counts) == 3 * 4  # 3 splits x (2 classes labeled + unlabeled + conflict)
    assert counts[("train", "coffee", "labeled")] == 2
    assert counts[("train", "other", "labeled")] == 0
    assert counts[("test", "other", "labeled")] == 1
    assert counts[("validation", None, "unlabeled")] == 2
    assert counts[("validation", None, "conflict")] == 0


def test_stats_of_an_empty_project_are_zeros(api_as, project, owner):
    body = api_as(owner).get(f"/api/projects/{project.pk}/stats/").json()
    assert body["total"] == 0
    assert {row["count"] for row in body["counts"]} == {0}
