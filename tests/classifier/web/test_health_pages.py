"""The data-health pages through Django's test client: the health page's figures and links,
the review queue's answers, the counts on the dashboard, models and jobs pages, and the
gallery's filter."""

import re

import pytest

from classifier.models import (
    DataIssue,
    DataIssueKind,
    HealthCheck,
    JobStatus,
    LabelCheckDecision,
    LabelCheckReview,
)
from labeling.models import Image, Split
from tests.classifier.factories import ModelVersionFactory
from tests.support.labeled_images import labeled_image

pytestmark = pytest.mark.django_db


@pytest.fixture
def suspect(project):
    """A finished check that suspects one "other" image of being coffee."""
    check = HealthCheck.objects.create(
        project=project, status=JobStatus.SUCCEEDED, counts={"label_error": 1}
    )
    image = labeled_image(project, label="other", split=Split.TRAIN, seed=77)
    coffee = project.classes.get(name="coffee")
    return DataIssue.objects.create(
        project=project, health_check=check, kind=DataIssueKind.LABEL_ERROR, score=0.93,
        image_ids=[image.pk], image=image,
        detail={
            "given_label_id": image.label_id, "given_label": "other", "given_probability": 0.07,
            "suggested_label_id": coffee.pk, "suggested_label": "coffee",
            "suggested_probability": 0.93,
        },
    )  # fmt: skip


@pytest.fixture
def leak(project):
    check = HealthCheck.objects.create(project=project, status=JobStatus.SUCCEEDED)
    first = labeled_image(project, label="coffee", split=Split.TRAIN, seed=81)
    copy = labeled_image(project, label="coffee", split=Split.TEST, seed=82)
    detail = {
        "pairs": [[first.pk, copy.pk, 0.97]],
        "splits": {str(first.pk): "train", str(copy.pk): "test"},
    }
    for kind in (DataIssueKind.NEAR_DUPLICATE, DataIssueKind.SPLIT_LEAK):
        DataIssue.objects.create(
            project=project, health_check=check, kind=kind, score=0.97,
            image_ids=[first.pk, copy.pk], detail=detail,
        )  # fmt: skip
    return first, copy


def count_link(page: str, name: str) -> tuple[str, str]:
    """(where the count named `name` links, the number it shows) on the health page."""
    found = re.search(rf'href="([^"]+)" data-count="{name}"><div class="[^"]*">(\d+)<', page)
    assert found, f"no count {name}"
    return found.group(1), found.group(2)


def test_the_health_page_links_each_count_to_the_filtered_gallery(
    client, owner, project, suspect, leak
):
    client.force_login(owner)

    page = client.get(f"/projects/{project.pk}/health/").content.decode()

    gallery = f"/projects/{project.pk}/gallery/"
    assert count_link(page, "label_error") == (f"{gallery}?issue=label_error", "1")
    assert count_link(page, "split_leak") == (f"{gallery}?issue=split_leak", "1")
    assert count_link(page, "unlabeled") == (f"{gallery}?status=unlabeled", "0")
    assert 'id="fix-leaks-button"' in page
    assert 'id="balance-data"' in page


def test_the_gallery_filters_by_a_kind_of_finding(client, owner, project, leak):
    client.force_login(owner)
    labeled_image(project, label="other", split=Split.TRAIN, seed=83)  # in no finding

    page = client.get(f"/projects/{project.pk}/gallery/?issue=split_leak").content.decode()

    shown = {image.pk for image in Image.objects.all() if f'data-image="{image.pk}"' in page}
    assert shown == {leak[0].pk, leak[1].pk}


def test_the_fix_button_moves_the_leaked_group_into_train(client, owner, project, leak):
    client.force_login(owner)

    response = client.post(f"/projects/{project.pk}/health/fix-leaks/")

    assert response.status_code == 302
    assert {Image.objects.get(pk=image.pk).split for image in leak} == {"train"}


def test_the_review_queue_shows_the_suspect_with_who_labeled_it(client, owner, project, suspect):
    client.force_login(owner)

    page = client.get(f"/projects/{project.pk}/label-errors/").content.decode()

    assert f'data-issue="{suspect.pk}"' in page
    assert f"{owner.username} (other)" in page
    assert "<strong>coffee</strong>" in page
    assert "93%" in page


def test_keeping_a_label_records_it_and_empties_the_queue(client, owner, project, suspect):
    client.force_login(owner)

    client.post(f"/data-issues/{suspect.pk}/keep/")

    review = LabelCheckReview.objects.get()
    assert (review.decision, review.label.name, review.reviewed_by) == (
        LabelCheckDecision.KEPT,
        "other",
        owner,
    )
    assert (
        'id="queue-empty"' in client.get(f"/projects/{project.pk}/label-errors/").content.decode()
    )


def test_relabeling_sets_the_suggested_label_as_a_review(client, owner, project, suspect):
    client.force_login(owner)

    client.post(
        f"/data-issues/{suspect.pk}/relabel/", {"label_class": suspect.detail["suggested_label_id"]}
    )

    image = Image.objects.get(pk=suspect.image_id)
    assert (image.label.name, image.label_reviewed) == ("coffee", True)
    assert LabelCheckReview.objects.get().decision == LabelCheckDecision.RELABELED


def test_the_dashboard_and_models_page_count_suspects_and_leaks(
    client, owner, project, suspect, leak
):
    client.force_login(owner)

    dashboard = client.get(f"/projects/{project.pk}/").content.decode()
    models = client.get(f"/projects/{project.pk}/models/").content.decode()

    for page in (dashboard, models):
        assert "<strong>1</strong> suspected label error<" in page
        assert "<strong>1</strong> split leak<" in page


def test_the_models_page_warns_of_a_version_measured_with_leaks(client, owner, project):
    ModelVersionFactory(project=project, version=1, metrics={"accuracy": 0.99, "split_leaks": 3})
    client.force_login(owner)

    page = client.get(f"/projects/{project.pk}/models/").content.decode()

    assert 'class="text-danger fw-normal split-leak-warning"' in page
    assert "3 leaks" in page


def test_the_jobs_page_lists_health_checks(client, owner, project):
    HealthCheck.objects.create(
        project=project, status=JobStatus.SUCCEEDED,
        counts={"label_error": 4, "split_leak": 2, "near_duplicate": 3, "low_quality": 0},
    )  # fmt: skip
    client.force_login(owner)

    page = client.get(f"/projects/{project.pk}/jobs/").content.decode()

    assert 'class="health-check"' in page
    assert "4 label errors, 2 leaks, 3 duplicate groups, 0 low quality" in page
