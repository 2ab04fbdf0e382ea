"""The suggestions on the site's pages: the labeling page's queue and Enter, the grid's bulk
accept (its count, its confirmation's figure) and the undo of grid actions."""

import json
from urllib.parse import urlencode

from django.urls import reverse

from labeling.models import Annotation, Split
from labeling.services import annotations_create_bulk
from tests.classifier.suggestions_support import predicted_image
from tests.factories import ImageFactory


def post_json(client, url_name, project, body):
    return client.post(
        reverse(url_name, args=[project.pk]), json.dumps(body), content_type="application/json"
    )


def test_the_labeling_queue_carries_each_images_suggestion(client, project, annotator):
    predicted = predicted_image(project, label="coffee", confidence=0.8)
    blind = predicted_image(project, label="coffee", confidence=0.7, split=Split.TEST)
    client.force_login(annotator)

    state = client.get(reverse("labeling:project-label", args=[project.pk])).context["state"]

    suggestions = {image["id"]: image["suggestion"] for image in state["queue"]}
    assert suggestions == {
        predicted.pk: {
            "label": "coffee",
            "label_class": project.classes.get(name="coffee").pk,
            "confidence": 0.8,
        },
        blind.pk: None,
    }


def test_accepting_on_the_labeling_page_marks_the_annotation(client, project, annotator):
    image = predicted_image(project, label="other", confidence=0.8)
    other = project.classes.get(name="other")
    client.force_login(annotator)

    response = post_json(
        client,
        "labeling:project-label-annotate",
        project,
        {"image": image.pk, "label_class": other.pk, "from_suggestion": True},
    )

    assert response.status_code == 201
    assert response.json()["from_suggestion"] is True
    assert Annotation.objects.get().from_suggestion is True


def test_accepting_a_suggestion_the_image_no_longer_has_is_refused(client, project, annotator):
    image = predicted_image(project, label="other", confidence=0.8)
    coffee = project.classes.get(name="coffee")
    client.force_login(annotator)

    response = post_json(
        client,
        "labeling:project-label-annotate",
        project,
        {"image": image.pk, "label_class": coffee.pk, "from_suggestion": True},
    )

    assert response.status_code == 400
    assert "now other" in response.json()["detail"]


def test_skipped_images_come_back_after_a_reload(client, project, annotator):
    first, second, third = (ImageFactory(project=project) for _ in range(3))
    client.force_login(annotator)
    for image in (first, second):
        post_json(client, "labeling:project-label-skip", project, {"image": image.pk})

    page = client.get(reverse("labeling:project-label", args=[project.pk]))
    assert page.context["state"]["skipped"] == 2
    assert [image["id"] for image in page.context["state"]["queue"]] == [third.pk]

    back = post_json(client, "labeling:project-label-unskip", project, {}).json()

    assert [image["id"] for image in back["queue"]] == [first.pk, second.pk]
    state = client.get(reverse("labeling:project-label", args=[project.pk])).context["state"]
    assert state["skipped"] == 0
    assert [image["id"] for image in state["queue"]] == [first.pk, second.pk, third.pk]


def test_skipped_images_labeled_since_do_not_come_back(client, project, annotator, owner):
    skipped = ImageFactory(project=project)
    client.force_login(annotator)
    post_json(client, "labeling:project-label-skip", project, {"image": skipped.pk})
    annotations_create_bulk(image_ids=[skipped.pk], user=owner, label_class=project.classes.first())

    assert post_json(client, "labeling:project-label-unskip", project, {}).json()["queue"] == []


def grid_accept(client, project, **fields):
    return client.post(
        reverse("labeling:project-grid-accept-suggestions", args=[project.pk]), fields
    )


def test_the_grid_counts_the_suggestions_a_bulk_accept_would_take(client, project, annotator):
    predicted_image(project, label="coffee", confidence=0.97)
    predicted_image(project, label="other", confidence=0.96, split=Split.VALIDATION)
    predicted_image(project, label="other", confidence=0.5)
    client.force_login(annotator)
    url = reverse("labeling:project-grid-accept-count", args=[project.pk])

    everything = client.get(url, {"scope": "filter", "min_confidence": 95}).json()
    train_only = client.get(
        url,
        {"scope": "filter", "min_confidence": 95, "filter_query": urlencode({"split": "train"})},
    ).json()

    assert (everything, train_only) == ({"count": 2}, {"count": 1})


def test_the_grid_accepts_the_suggestions_across_its_filter(client, project, annotator):
    train = predicted_image(project, label="coffee", confidence=0.97)
    predicted_image(project, label="coffee", confidence=0.97, split=Split.VALIDATION)
    client.force_login(annotator)

    response = grid_accept(
        client, project, scope="filter", min_confidence=95, filter_query="split=train"
    )

    assert response.status_code == 302
    assert list(Annotation.objects.values_list("image_id", "from_suggestion")) == [(train.pk, True)]


def test_the_grid_accepts_the_suggestions_on_its_page(client, project, annotator):
    on_page = predicted_image(project, label="coffee", confidence=0.97)
    predicted_image(project, label="coffee", confidence=0.97)  # on another page
    client.force_login(annotator)

    grid_accept(client, project, scope="page", min_confidence=95, image_ids=str(on_page.pk))

    assert list(Annotation.objects.values_list("image_id", flat=True)) == [on_page.pk]


def test_the_grid_offers_to_undo_its_last_bulk_action(client, project, annotator):
    predicted_image(project, label="coffee", confidence=0.97)
    client.force_login(annotator)
    grid_accept(client, project, scope="filter", min_confidence=95)

    grid = client.get(reverse("labeling:project-grid", args=[project.pk]))
    batch = grid.context["last_batch"]
    assert batch is not None and batch.size == 1

    client.post(reverse("labeling:annotation-batch-undo", args=[project.pk, batch.pk]))

    assert not Annotation.objects.exists()
    assert (
        client.get(reverse("labeling:project-grid", args=[project.pk])).context["last_batch"]
        is None
    )


def test_a_grid_label_can_be_undone(client, project, annotator):
    image = ImageFactory(project=project)
    client.force_login(annotator)
    client.post(
        reverse("labeling:project-grid-apply", args=[project.pk]),
        {"image_ids": [image.pk], "label_class": project.classes.first().pk},
    )
    batch = client.get(reverse("labeling:project-grid", args=[project.pk])).context["last_batch"]

    client.post(reverse("labeling:annotation-batch-undo", args=[project.pk, batch.pk]))

    assert not Annotation.objects.exists()
