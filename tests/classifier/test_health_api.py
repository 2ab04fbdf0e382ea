"""The data-health API: a check as a job (202, ?wait), the findings by kind, fixing leaks;
with a real Celery worker for the check itself."""

import pytest
from rest_framework.test import APIClient

from classifier.models import DataIssue, DataIssueKind, HealthCheck, JobStatus
from labeling.models import Image, Split
from tests.support.data_health import cluster_vectors, image_with_embedding


def client_for(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def a_project_with_a_leak(project):
    for centre, label in enumerate(("coffee", "other")):
        for index, vector in enumerate(cluster_vectors(8, centre=centre, seed=centre)):
            split = [Split.TRAIN, Split.VALIDATION, Split.TEST, Split.TRAIN][index % 4]
            image_with_embedding(
                project, vector, split=split, label=label, seed=100 * centre + index
            )
    vector = cluster_vectors(1, centre=4, seed=9)[0]
    original = image_with_embedding(project, vector, split=Split.TRAIN, seed=901)
    copy = image_with_embedding(project, vector * 1.01, split=Split.TEST, seed=902)
    return original, copy


@pytest.mark.django_db(transaction=True)
def test_a_check_runs_on_a_worker_and_its_findings_are_listed(worker, project, owner):
    original, copy = a_project_with_a_leak(project)
    api = client_for(owner)

    created = api.post(f"/api/projects/{project.pk}/health-checks/", {}, format="json")
    assert created.status_code == 202, created.json()
    assert created.json()["status"] in ("queued", "running")  # the worker is quick
    finished = api.get(f"/api/health-checks/{created.json()['id']}/", {"wait": 30}).json()
    leaks = api.get(f"/api/projects/{project.pk}/data-issues/", {"kind": "split_leak"}).json()

    assert finished["status"] == "succeeded", finished
    assert finished["counts"]["split_leak"] == 1
    assert leaks == {
        "results": [
            {
                "id": leaks["results"][0]["id"],
                "kind": "split_leak",
                "score": pytest.approx(1.0, abs=1e-3),
                "image_ids": [original.pk, copy.pk],
                "detail": {
                    "pairs": [[original.pk, copy.pk, pytest.approx(1.0, abs=1e-3)]],
                    "splits": {str(original.pk): "train", str(copy.pk): "test"},
                },
            }
        ]
    }


def findings(project, *issues) -> HealthCheck:
    check = HealthCheck.objects.create(project=project, status=JobStatus.SUCCEEDED)
    for kind, image_ids, detail in issues:
        DataIssue.objects.create(
            project=project, health_check=check, kind=kind, score=0.9, image_ids=image_ids,
            detail=detail,
        )  # fmt: skip
    return check


@pytest.mark.django_db
def test_issues_are_filtered_by_kind(project, owner):
    findings(
        project,
        (DataIssueKind.LABEL_ERROR, [1], {"suggested_label": "coffee"}),
        (DataIssueKind.LOW_QUALITY, [2], {"problems": ["blank"]}),
    )
    api = client_for(owner)

    everything = api.get(f"/api/projects/{project.pk}/data-issues/").json()["results"]
    blank = api.get(f"/api/projects/{project.pk}/data-issues/?kind=low_quality").json()

    assert [issue["kind"] for issue in everything] == ["label_error", "low_quality"]
    assert [issue["image_ids"] for issue in blank["results"]] == [[2]]


@pytest.mark.django_db
def test_an_unknown_kind_is_a_400(project, owner):
    response = client_for(owner).get(f"/api/projects/{project.pk}/data-issues/?kind=typo")

    assert response.status_code == 400
    assert "kind" in response.json()["detail"]


@pytest.mark.django_db
def test_fixing_leaks_moves_groups_and_says_how_many(project, owner):
    images = [
        image_with_embedding(project, [1.0] * 16, split=split, seed=300 + n)
        for n, split in enumerate([Split.TRAIN, Split.TEST, Split.VALIDATION])
    ]
    findings(
        project,
        (
            DataIssueKind.SPLIT_LEAK,
            [image.pk for image in images],
            {"splits": {str(i.pk): i.split for i in images}},
        ),
    )

    response = client_for(owner).post(
        f"/api/projects/{project.pk}/split-leaks/fix/", {}, format="json"
    )

    assert response.status_code == 200
    assert response.json() == {"moved": 2}
    assert set(Image.objects.values_list("split", flat=True)) == {"train"}
    assert not DataIssue.objects.filter(kind=DataIssueKind.SPLIT_LEAK).exists()


@pytest.mark.django_db
def test_fixing_leaks_into_a_preferred_split(project, owner):
    images = [
        image_with_embedding(project, [1.0] * 16, split=split, seed=400 + n)
        for n, split in enumerate([Split.TRAIN, Split.TEST])
    ]
    findings(project, (DataIssueKind.SPLIT_LEAK, [image.pk for image in images], {}))

    response = client_for(owner).post(
        f"/api/projects/{project.pk}/split-leaks/fix/", {"split": "test"}, format="json"
    )

    assert response.json() == {"moved": 1}
    assert set(Image.objects.values_list("split", flat=True)) == {"test"}
