"""Gold images in annotators' queues: mixed in at the project's rate, never marked as gold
on the page, and scored once labeled."""

import random

import pytest
from django.urls import reverse

from labeling import selectors, services
from labeling.models import Image
from tests.factories import ImageFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def gold_images(project):
    images = [ImageFactory(project=project) for _ in range(3)]
    coffee = project.classes.get(name="coffee")
    for image in images:
        services.image_gold_set(image=image, gold=True, label_class=coffee)
    return images


@pytest.fixture
def work(project):
    return [ImageFactory(project=project) for _ in range(3)]


def queue(client, project) -> list[dict]:
    return client.get(reverse("labeling:project-label-queue", args=[project.pk])).json()["queue"]


def test_at_100_percent_a_gold_image_comes_before_each_image_to_label(
    client, project, annotator, gold_images, work
):
    project.gold_percent = 100
    project.save()
    client.force_login(annotator)

    shown = queue(client, project)

    gold_ids = {image.pk for image in gold_images}
    # The page is sent LABELING_PREFETCH (5) images at a time.
    assert [item["id"] in gold_ids for item in shown] == [True, False, True, False, True]
    assert all(item["label"] is None for item in shown)  # nothing gives gold away
    assert set(shown[0]) == set(shown[1])


def test_at_0_percent_no_gold_image_is_shown(client, project, annotator, gold_images, work):
    project.gold_percent = 0
    project.save()
    client.force_login(annotator)

    assert [item["id"] for item in queue(client, project)] == [image.pk for image in work]


def test_gold_images_come_only_with_real_work(client, project, annotator, gold_images):
    project.gold_percent = 100
    project.save()
    client.force_login(annotator)

    assert queue(client, project) == []


def test_a_gold_image_already_labeled_by_the_annotator_is_not_shown_again(
    client, project, annotator, gold_images, work
):
    project.gold_percent = 100
    project.save()
    coffee = project.classes.get(name="coffee")
    for image in gold_images:
        services.annotation_create(image=image, user=annotator, label_class=coffee)
    client.force_login(annotator)

    assert [item["id"] for item in queue(client, project)] == [image.pk for image in work]


def test_labeling_a_gold_image_scores_the_annotator_and_leaves_its_label(
    project, annotator, gold_images
):
    other = project.classes.get(name="other")
    services.annotation_create(image=gold_images[0], user=annotator, label_class=other)

    [figures] = selectors.project_annotator_figures(project=project, user=annotator)
    assert (figures.gold_accuracy.share, figures.gold_accuracy.images) == (0.0, 1)
    assert Image.objects.get(pk=gold_images[0].pk).label.name == "coffee"


def test_the_mix_follows_the_rate():
    queue_images, gold = list(range(1000)), [-(n + 1) for n in range(1000)]

    mixed = selectors.queue_with_gold(
        queue=queue_images, gold=gold, percent=20, rng=random.Random(7)
    )

    share = sum(1 for item in mixed if item < 0) / len(queue_images)
    assert 0.16 < share < 0.24
    assert [item for item in mixed if item >= 0] == queue_images
