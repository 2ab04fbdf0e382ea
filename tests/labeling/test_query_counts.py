"""The pages and endpoints that list a project's images cost a fixed number of queries,
whatever the number of images, labels, predictions and annotators: each is pinned at the same
count for a small and a larger project, so a query per image (or per row of anything) fails.

The counts include the session and the user (two queries) for the pages; the API
authenticates with a token (one query).
"""

import itertools

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from classifier.models import JobStatus, ModelVersionStatus, Prediction
from labeling.models import Annotation, Image, LabelStatus, Role, Split
from tests.classifier.factories import ModelVersionFactory, TrainingRunFactory
from tests.factories import MembershipFactory, UserFactory

SIZES = [5, 60]


@pytest.fixture
def members(project):
    """Three annotators and a viewer besides the owner."""
    made = {
        name: MembershipFactory(project=project, user=UserFactory(username=name), role=role).user
        for name, role in [
            ("ann", Role.ANNOTATOR),
            ("ben", Role.ANNOTATOR),
            ("cleo", Role.ANNOTATOR),
            ("vic", Role.VIEWER),
        ]
    }
    return {"owner": project.created_by, **made}


def populated(project, members, size: int) -> list[Image]:
    """`size` images in every split and status, uploaded by two people, annotated by up to
    three, each predicted by a retired and the active version; a finished and a failed
    training run. Rows are bulk-created: only the counts matter here, not the files."""
    coffee, other = project.classes.order_by("order")
    splits = itertools.cycle([Split.TRAIN, Split.TRAIN, Split.TRAIN, Split.VALIDATION, Split.TEST])
    uploaders = itertools.cycle([members["owner"], members["ann"]])
    images = []
    for index in range(size):
        status = [LabelStatus.LABELED] * 4 + [LabelStatus.CONFLICT, LabelStatus.UNLABELED]
        label_status = status[index % 6]
        images.append(
            Image(
                project=project,
                file=f"projects/{project.pk}/images/{index:064x}.png",
                thumbnail=f"projects/{project.pk}/thumbnails/{index:064x}.jpg",
                original_name=f"photo{index}.png",
                sha256=f"{index:064x}",
                width=32,
                height=24,
                format="PNG",
                split=next(splits),
                uploaded_by=next(uploaders),
                label=(coffee if index % 2 else other)
                if label_status == LabelStatus.LABELED
                else None,
                label_status=label_status,
            )
        )
    images = Image.objects.bulk_create(images)
    annotations = []
    for index, image in enumerate(images):
        annotators = [members["ann"], members["ben"], members["cleo"]][: 1 + index % 3]
        for number, user in enumerate(annotators):
            label = coffee if (index + number) % 2 else other
            annotations.append(Annotation(image=image, user=user, label_class=label))
    Annotation.objects.bulk_create(annotations)

    run = TrainingRunFactory(project=project, status=JobStatus.SUCCEEDED)
    TrainingRunFactory(project=project, status=JobStatus.FAILED, error="MemoryError")
    retired = ModelVersionFactory(project=project, version=1, status=ModelVersionStatus.RETIRED)
    active = ModelVersionFactory(
        project=project,
        version=2,
        status=ModelVersionStatus.ACTIVE,
        training_run=run,
        activated_at=timezone.now(),
    )
    Prediction.objects.bulk_create(
        Prediction(
            image=image,
            model_version=version,
            label=coffee if index % 3 else other,
            confidence=0.5 + (index % 50) / 100,
            probabilities={"coffee": 0.7, "other": 0.3},
        )
        for index, image in enumerate(images)
        for version in (retired, active)
    )
    return images


# page -> (URL name, who asks, queries). Every count is the same at both sizes.
PAGES = {
    "gallery": ("labeling:project-gallery", "owner", 10),
    "grid": ("labeling:project-grid", "ann", 10),
    # The queue: its stored places in rank order, the upload-order tail, the images with
    # their active predictions (classifier.selectors.labeling_queue), the gold images to mix
    # in (labeling.selectors.queue_with_gold), and the suggestions
    # (classifier.selectors.suggestions_for_images); the page also counts the user's skipped
    # images (labeling.selectors.images_skipped_by).
    "labeling page": ("labeling:project-label", "cleo", 12),
    "next images": ("labeling:project-label-queue", "cleo", 10),
    # 2 of them the data-health card's (classifier's).
    "dashboard": ("labeling:project-dashboard", "owner", 18),
    "data health": ("classifier:project-health", "owner", 9),
    "label errors": ("classifier:project-label-errors", "owner", 7),
}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("page", PAGES)
def test_a_project_page_costs_a_fixed_number_of_queries(
    client, project, members, media_root, django_assert_num_queries, page, size
):
    populated(project, members, size)
    url_name, user, queries = PAGES[page]
    client.force_login(members[user])
    url = reverse(url_name, args=[project.pk])
    with django_assert_num_queries(queries):
        response = client.get(url)
    assert response.status_code == 200


@pytest.mark.parametrize("size", SIZES)
def test_the_apis_image_list_costs_a_fixed_number_of_queries(
    project, members, media_root, django_assert_num_queries, size
):
    populated(project, members, size)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=members['vic'])}")
    url = reverse("api:labeling:project-images", args=[project.pk])
    with django_assert_num_queries(7):
        response = client.get(url, {"page_size": 100})
    assert response.status_code == 200
    assert len(response.json()["results"]) == size
