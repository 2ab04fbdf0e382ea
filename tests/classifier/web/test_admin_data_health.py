"""The data-health rows and model exports in the admin: health checks with what they found,
their findings, the owners' answers to suspected label errors and the export jobs, each
listed (searchable, a fixed number of queries) and shown read-only."""

import pytest
from django.urls import reverse
from django.utils import timezone

from classifier.models import (
    DataIssue,
    DataIssueKind,
    ExportFormat,
    HealthCheck,
    HealthCheckTrigger,
    JobStatus,
    LabelCheckDecision,
    LabelCheckReview,
    ModelExport,
)
from tests.factories import ImageFactory

MODELS = ["healthcheck", "dataissue", "labelcheckreview", "modelexport"]


def make_health_check(project, *, issues: int = 1) -> HealthCheck:
    now = timezone.now()
    check = HealthCheck.objects.create(
        project=project,
        trigger=HealthCheckTrigger.AFTER_TRAINING,
        status=JobStatus.SUCCEEDED,
        progress=100,
        counts={"label_error": issues, "near_duplicate": 0},
        timings={"embedding": 1.25, "label_errors": 0.04},
        started_at=now,
        finished_at=now,
    )
    for _ in range(issues):
        image = ImageFactory(project=project)
        DataIssue.objects.create(
            project=project,
            health_check=check,
            kind=DataIssueKind.LABEL_ERROR,
            score=0.93,
            image=image,
            image_ids=[image.pk],
            detail={"given_label": "coffee", "suggested_label": "other"},
        )
    return check


@pytest.fixture
def health_rows(project, versions, owner):
    check = make_health_check(project)
    issue = check.issues.get()
    label_class = project.classes.first()
    review = LabelCheckReview.objects.create(
        image=issue.image, label=label_class, decision=LabelCheckDecision.KEPT, reviewed_by=owner
    )
    export = ModelExport.objects.create(
        model_version=versions[2], format=ExportFormat.TFLITE, status=JobStatus.QUEUED
    )
    return {"healthcheck": check, "dataissue": issue, "labelcheckreview": review,
            "modelexport": export}  # fmt: skip


@pytest.mark.parametrize("model", MODELS)
def test_each_changelist_lists_its_rows_and_searches(admin_client, health_rows, model):
    url = reverse(f"admin:classifier_{model}_changelist")
    response = admin_client.get(url)
    assert response.status_code == 200
    assert response.context["cl"].result_count == 1
    assert admin_client.get(url + "?q=coffee").status_code == 200


@pytest.mark.parametrize("model", MODELS)
def test_each_change_page_shows_the_row_read_only(admin_client, health_rows, model):
    response = admin_client.get(
        reverse(f"admin:classifier_{model}_change", args=[health_rows[model].pk])
    )
    assert response.status_code == 200
    assert response.context["has_change_permission"] is False


def test_a_health_check_row_says_what_it_found_and_where_the_time_went(admin_client, health_rows):
    content = admin_client.get(reverse("admin:classifier_healthcheck_changelist")).content
    assert b"label_error 1, near_duplicate 0" in content
    page = admin_client.get(
        reverse("admin:classifier_healthcheck_change", args=[health_rows["healthcheck"].pk])
    ).content
    assert b"embedding 1.2, label_errors 0.0" in page or b"embedding 1.3" in page


def test_an_unfinished_export_cannot_be_deleted(admin_client, health_rows):
    export = health_rows["modelexport"]
    admin_client.post(reverse("admin:classifier_modelexport_delete", args=[export.pk]),
                      {"post": "yes"})  # fmt: skip
    assert ModelExport.objects.filter(pk=export.pk).exists()


def test_the_health_check_list_costs_the_same_queries_for_more_checks(
    admin_client, project, django_assert_max_num_queries
):
    make_health_check(project)
    url = reverse("admin:classifier_healthcheck_changelist")
    admin_client.get(url)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as one:
        admin_client.get(url)
    for _ in range(5):
        make_health_check(project, issues=2)
    with django_assert_max_num_queries(len(one.captured_queries)):
        admin_client.get(url)
