"""The labeling page and its JSON endpoints: queue, annotate, undo, skip; CSRF enforced."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from labeling.models import Annotation, Image, LabelStatus
from labeling.services import annotation_create
from labeling.views.labeling_page import LABELING_PREFETCH
from tests.factories import ImageFactory, ProjectFactory


def post_json(client, url_name, project, body):
    return client.post(
        reverse(url_name, args=[project.pk]), json.dumps(body), content_type="application/json"
    )


def queue_ids(response) -> list[int]:
    return [image["id"] for image in response.json()["queue"]]


@pytest.fixture
def images(project):
    return ImageFactory.create_batch(8, project=project)


def test_the_page_starts_with_the_oldest_images_and_the_classes(client, project, annotator, images):
    client.force_login(annotator)
    state = client.get(reverse("labeling:project-label", args=[project.pk])).context["state"]
    assert [image["id"] for image in state["queue"]] == [
        image.pk for image in images[:LABELING_PREFETCH]
    ]
    assert [c["key"] for c in state["classes"]] == ["1", "2"]
    assert state["queue"][0]["url"] == reverse("labeling:image-file", args=[images[0].pk])
    assert state["progress"]["train"] == {"labeled": 0, "total": 8}


def test_annotating_records_the_users_label(client, project, annotator, images):
    other = project.classes.get(name="other")
    client.force_login(annotator)
    response = post_json(
        client,
        "labeling:project-label-annotate",
        project,
        {"image": images[0].pk, "label_class": other.pk},
    )
    assert response.status_code == 201
    annotation = Annotation.objects.get()
    assert (annotation.image_id, annotation.user, annotation.label_class) == (
        images[0].pk,
        annotator,
        other,
    )
    assert response.json()["progress"]["train"] == {"labeled": 1, "total": 8}


def test_annotating_again_replaces_the_label(client, project, annotator, images):
    coffee, other = project.classes.all()
    client.force_login(annotator)
    for label_class in (coffee, other):
        post_json(
            client,
            "labeling:project-label-annotate",
            project,
            {"image": images[0].pk, "label_class": label_class.pk},
        )
    assert list(Annotation.objects.values_list("label_class", flat=True)) == [other.pk]


def test_a_labeled_image_leaves_the_users_queue(client, project, annotator, images):
    client.force_login(annotator)
    post_json(
        client,
        "labeling:project-label-annotate",
        project,
        {"image": images[0].pk, "label_class": project.classes.first().pk},
    )
    response = client.get(reverse("labeling:project-label-queue", args=[project.pk]))
    assert queue_ids(response) == [image.pk for image in images[1 : 1 + LABELING_PREFETCH]]


def test_undo_takes_the_label_back(client, project, annotator, images):
    client.force_login(annotator)
    post_json(
        client,
        "labeling:project-label-annotate",
        project,
        {"image": images[0].pk, "label_class": project.classes.first().pk},
    )
    response = post_json(client, "labeling:project-label-undo", project, {"image": images[0].pk})
    assert response.status_code == 200
    assert not Annotation.objects.exists()
    assert Image.objects.get(pk=images[0].pk).label_status == LabelStatus.UNLABELED
    assert (
        queue_ids(client.get(reverse("labeling:project-label-queue", args=[project.pk])))[0]
        == images[0].pk
    )


def test_undo_leaves_other_annotators_labels(client, project, owner, annotator, images):
    coffee = project.classes.first()
    annotation_create(image=images[0], user=owner, label_class=coffee)
    client.force_login(annotator)
    post_json(client, "labeling:project-label-undo", project, {"image": images[0].pk})
    assert Annotation.objects.get().user == owner


def test_a_skipped_image_stays_out_of_the_queue(client, project, annotator, images):
    client.force_login(annotator)
    post_json(client, "labeling:project-label-skip", project, {"image": images[0].pk})
    queue_url = reverse("labeling:project-label-queue", args=[project.pk])
    assert images[0].pk not in queue_ids(client.get(queue_url))
    page_state = client.get(reverse("labeling:project-label", args=[project.pk])).context["state"]
    assert images[0].pk not in [image["id"] for image in page_state["queue"]]


def test_a_skip_outlives_the_login_session(client, project, annotator, images):
    client.force_login(annotator)
    post_json(client, "labeling:project-label-skip", project, {"image": images[0].pk})
    client.logout()
    fresh = Client()
    fresh.force_login(annotator)
    queue = queue_ids(fresh.get(reverse("labeling:project-label-queue", args=[project.pk])))
    assert images[0].pk not in queue
    page = fresh.get(reverse("labeling:project-label", args=[project.pk]))
    assert page.context["state"]["skipped"] == 1


def test_a_skip_is_the_skippers_own(client, project, owner, annotator, images):
    client.force_login(annotator)
    post_json(client, "labeling:project-label-skip", project, {"image": images[0].pk})
    client.force_login(owner)
    queue = queue_ids(client.get(reverse("labeling:project-label-queue", args=[project.pk])))
    assert queue[0] == images[0].pk


def test_undoing_a_skip_puts_the_image_back(client, project, annotator, images):
    client.force_login(annotator)
    post_json(client, "labeling:project-label-skip", project, {"image": images[0].pk})
    post_json(
        client, "labeling:project-label-skip", project, {"image": images[0].pk, "skip": False}
    )
    queue = queue_ids(client.get(reverse("labeling:project-label-queue", args=[project.pk])))
    assert queue[0] == images[0].pk


def test_the_queue_leaves_out_the_images_the_page_holds(client, project, annotator, images):
    client.force_login(annotator)
    held = f"{images[0].pk},{images[1].pk},{images[2].pk}"
    response = client.get(
        reverse("labeling:project-label-queue", args=[project.pk]), {"exclude": held}
    )
    assert queue_ids(response) == [image.pk for image in images[3:8]]


def test_the_queue_ignores_junk_in_exclude(client, project, annotator, images):
    client.force_login(annotator)
    response = client.get(
        reverse("labeling:project-label-queue", args=[project.pk]), {"exclude": "x,,1e9,-3"}
    )
    assert response.status_code == 200
    assert len(queue_ids(response)) == LABELING_PREFETCH


def test_annotating_another_projects_image_is_not_found(client, project, annotator):
    foreign = ImageFactory(project=ProjectFactory())
    client.force_login(annotator)
    response = post_json(
        client,
        "labeling:project-label-annotate",
        project,
        {"image": foreign.pk, "label_class": project.classes.first().pk},
    )
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
    assert not Annotation.objects.exists()


def test_annotating_with_another_projects_class_is_refused(client, project, annotator, images):
    client.force_login(annotator)
    response = post_json(
        client,
        "labeling:project-label-annotate",
        project,
        {"image": images[0].pk, "label_class": ProjectFactory().classes.first().pk},
    )
    assert response.status_code == 400
    assert "not one of this project's" in response.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", b'{"image": "abc", "label_class": 1}', b'{"image": true}', b"{}"],
)
def test_a_malformed_body_is_a_400_with_a_reason(client, project, annotator, images, body):
    client.force_login(annotator)
    response = client.post(
        reverse("labeling:project-label-annotate", args=[project.pk]),
        body,
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["detail"]


def test_a_viewer_gets_a_json_403(client, project, viewer, images):
    client.force_login(viewer)
    response = post_json(
        client,
        "labeling:project-label-annotate",
        project,
        {"image": images[0].pk, "label_class": project.classes.first().pk},
    )
    assert response.status_code == 403
    assert "detail" in response.json()


def test_the_endpoints_report_their_server_time(client, project, annotator, images):
    client.force_login(annotator)
    response = client.get(reverse("labeling:project-label-queue", args=[project.pk]))
    assert response["Server-Timing"].startswith("app;dur=")


@pytest.mark.parametrize(
    "url_name",
    [
        "labeling:project-label-annotate",
        "labeling:project-label-undo",
        "labeling:project-label-skip",
    ],
)
def test_the_json_endpoints_require_the_csrf_token(project, annotator, images, url_name):
    client = Client(enforce_csrf_checks=True)
    client.force_login(annotator)
    body = {"image": images[0].pk, "label_class": project.classes.first().pk}
    refused = post_json(client, url_name, project, body)
    assert refused.status_code == 403
    assert b"CSRF" in refused.content

    # The page carries the token; with it in the header, the same request goes through.
    page = client.get(reverse("labeling:project-label", args=[project.pk]))
    token = page.cookies["csrftoken"].value
    accepted = client.post(
        reverse(url_name, args=[project.pk]),
        json.dumps(body),
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert accepted.status_code in (200, 201)


def test_the_labeling_page_query_count_is_small(
    client, project, annotator, images, django_assert_max_num_queries
):
    client.force_login(annotator)
    # Session, user, project, role, classes, the queue (its stored places, the upload-order
    # tail, the images with their active predictions), the gold images to mix in, the queued
    # images' suggestions, the per-split counter, the user's skipped images.
    with django_assert_max_num_queries(12):
        client.get(reverse("labeling:project-label", args=[project.pk]))


def test_an_annotation_round_trip_takes_a_handful_of_queries(
    client, project, annotator, images, django_assert_max_num_queries
):
    client.force_login(annotator)
    body = {"image": images[0].pk, "label_class": project.classes.first().pk}
    with django_assert_max_num_queries(16):
        post_json(client, "labeling:project-label-annotate", project, body)


def test_each_queued_image_says_why_it_is_next(client, project, annotator, images):
    client.force_login(annotator)

    state = client.get(reverse("labeling:project-label", args=[project.pk])).context["state"]
    queue = client.get(reverse("labeling:project-label-queue", args=[project.pk])).json()["queue"]

    # No model yet: the project's strategy (least confidence) falls back to upload order.
    assert state["queue"][0]["queue_reason"] == "No prediction yet: next in upload order"
    assert queue[0]["queue_reason"] == "No prediction yet: next in upload order"
