"""The agreement and annotator figures through the API, against hand computations, and
gold images marked by owners."""

from datetime import timedelta

import pytest

from labeling import services
from labeling.models import Annotation, Image, Role, Split
from tests.factories import ImageFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(project):
    """Two more annotators beside the owner's project: ann, bob (and cy, who labels little)."""
    return {
        name: MembershipFactory(
            project=project, user=UserFactory(username=name), role=Role.ANNOTATOR
        ).user
        for name in ("ann", "bob", "cy")
    }


def label(image: Image, user, name: str) -> Annotation:
    label_class = image.project.classes.get(name=name)
    return services.annotation_create(image=image, user=user, label_class=label_class)


def test_agreement_on_skewed_classes_matches_a_hand_computation(project, team, owner, api_as):
    project.annotations_per_image = 2
    project.save()
    # 20 images both ann and bob label: "other" together on 18, each "coffee" once alone.
    for index in range(20):
        image = ImageFactory(project=project, split=Split.TRAIN)
        label(image, team["ann"], "coffee" if index == 18 else "other")
        label(image, team["bob"], "coffee" if index == 19 else "other")
    # cy labels two of them: too few shared images for a kappa of her own.
    for image in Image.objects.order_by("pk")[:2]:
        label(image, team["cy"], "other")

    answer = api_as(owner).get(f"/api/projects/{project.pk}/agreement/")

    assert answer.status_code == 200
    body = answer.json()
    assert body["images"] == 20
    # Per image: 18 with ann and bob agreeing (two of them with cy too: 3 of 3 pairs), 2
    # where they disagree (1 of 1 pair ... 0 of 1).
    assert body["percent_agreement"] == pytest.approx(18 / 20)
    [pair] = body["pairs"]
    assert pair["annotators"] == ["ann", "bob"]
    assert pair["images"] == 20
    assert pair["percent_agreement"] == pytest.approx(0.9)
    # p_o = 0.9, p_e = (1*1 + 19*19) / 400 = 0.905: chance explains all of it.
    assert pair["cohen_kappa"] == pytest.approx((0.9 - 0.905) / (1 - 0.905))
    assert body["krippendorff_alpha"] < 0.1
    assert body["min_shared_images"] == 5


def test_agreement_of_one_split_counts_only_its_images(project, team, owner, api_as):
    train = ImageFactory(project=project, split=Split.TRAIN)
    test = ImageFactory(project=project, split=Split.TEST)
    for image, (first, second) in ((train, ("coffee", "coffee")), (test, ("coffee", "other"))):
        label(image, team["ann"], first)
        label(image, team["bob"], second)

    train_figures = api_as(owner).get(f"/api/projects/{project.pk}/agreement/?split=train")
    test_figures = api_as(owner).get(f"/api/projects/{project.pk}/agreement/?split=test")

    assert (train_figures.json()["images"], train_figures.json()["percent_agreement"]) == (1, 1.0)
    assert (test_figures.json()["images"], test_figures.json()["percent_agreement"]) == (1, 0.0)


def test_only_owners_see_the_agreement(project, team, api_as):
    assert api_as(team["ann"]).get(f"/api/projects/{project.pk}/agreement/").status_code == 403


def test_annotator_figures(project, team, owner, api_as):
    images = [ImageFactory(project=project) for _ in range(4)]
    for image in images:
        label(image, team["ann"], "coffee")
    label(images[0], team["bob"], "other")
    label(images[1], team["bob"], "coffee")
    # Owners settle image 0 as coffee, make image 1 gold (coffee) and image 2 gold (other).
    coffee, other = project.classes.get(name="coffee"), project.classes.get(name="other")
    services.image_review(image=images[0], label_class=coffee)
    services.image_gold_set(image=images[1], gold=True)
    services.image_gold_set(image=images[2], gold=True, label_class=other)
    # ann's labels 30 s apart, then one after a lunch break.
    start = Annotation.objects.filter(user=team["ann"]).order_by("pk").first().created_at
    for offset, annotation in zip(
        (0, 30, 60, 3600), Annotation.objects.filter(user=team["ann"]).order_by("pk"), strict=True
    ):
        Annotation.objects.filter(pk=annotation.pk).update(
            created_at=start + timedelta(seconds=offset)
        )

    rows = {
        row["username"]: row
        for row in api_as(owner).get(f"/api/projects/{project.pk}/annotators/").json()
    }

    ann, bob = rows["ann"], rows["bob"]
    assert ann["labels"] == 4
    # Final labels: image 0 coffee (review), 1 coffee (gold), 2 other (gold), 3 coffee
    # (ann's vote alone, one required).
    assert ann["agreement_with_final"] == {"share": 3 / 4, "images": 4}
    assert ann["gold_accuracy"] == {"share": 1 / 2, "images": 2}
    assert ann["median_seconds_per_label"] == 30
    assert bob["agreement_with_final"] == {"share": 1 / 2, "images": 2}
    assert bob["gold_accuracy"] == {"share": 1.0, "images": 1}
    assert bob["median_seconds_per_label"] is not None
    assert ann["accepted_suggestions"] == {"share": 0.0, "images": 4}


def test_the_share_of_accepted_suggestions(project, team, owner, api_as):
    images = [ImageFactory(project=project) for _ in range(4)]
    coffee = project.classes.get(name="coffee")
    for index, image in enumerate(images):
        services.annotation_create(
            image=image, user=team["ann"], label_class=coffee, from_suggestion=index < 3
        )

    rows = api_as(owner).get(f"/api/projects/{project.pk}/annotators/").json()

    assert rows[0]["accepted_suggestions"] == {"share": 3 / 4, "images": 4}


def test_annotators_see_only_their_own_figures(project, team, api_as):
    image = ImageFactory(project=project)
    label(image, team["ann"], "coffee")
    label(image, team["bob"], "coffee")

    rows = api_as(team["ann"]).get(f"/api/projects/{project.pk}/annotators/").json()

    assert [row["username"] for row in rows] == ["ann"]


def test_owners_mark_an_image_gold_with_its_known_label(project, owner, api_as):
    image = ImageFactory(project=project)

    answer = api_as(owner).patch(
        f"/api/images/{image.pk}/", {"gold": True, "label": "other"}, format="json"
    )

    assert answer.status_code == 200
    assert answer.json()["label"] == "other"
    assert answer.json()["label_reviewed"] is True
    image.refresh_from_db()
    assert image.gold


def test_an_unlabeled_image_cannot_be_gold_without_a_label(project, owner, api_as):
    image = ImageFactory(project=project)

    answer = api_as(owner).patch(f"/api/images/{image.pk}/", {"gold": True}, format="json")

    assert answer.status_code == 400
    image.refresh_from_db()
    assert not image.gold


def test_annotators_cannot_mark_gold(project, team, api_as):
    image = ImageFactory(project=project)
    answer = api_as(team["ann"]).patch(
        f"/api/images/{image.pk}/", {"gold": True, "label": "coffee"}, format="json"
    )
    assert answer.status_code == 403
