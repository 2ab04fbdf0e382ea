"""The project's Models page: versions, metrics, charts; activating (and rolling back)."""

import json

import pytest
from django.urls import reverse

from classifier.models import JobStatus, ModelVersionStatus, PredictionJob, TrainingRun
from tests.classifier.factories import make_version
from tests.support.responses import messages_of


def models_url(project, **query) -> str:
    url = reverse("classifier:project-models", args=[project.pk])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def test_every_version_is_listed_with_its_metrics_and_status(client, owner, project, versions):
    client.force_login(owner)
    response = client.get(models_url(project))
    content = response.content.decode()
    assert response.status_code == 200
    assert [v.version for v in response.context["versions"]] == [3, 2, 1]
    for number, test, validation in (
        (1, "91.0%", "90.0%"),
        (2, "97.5%", "97.0%"),
        (3, "95.0%", "94.0%"),
    ):
        row = content.split(f'data-version="{number}"')[1].split("</tr>\n")[0]
        assert f'data-metric="test_accuracy">{test}' in row
        assert f'data-metric="validation_accuracy">{validation}' in row
    assert "did not beat active v2" in content  # the candidate's reason


def test_the_active_version_is_marked_and_shown_in_detail_by_default(
    client, owner, project, versions
):
    client.force_login(owner)
    response = client.get(models_url(project))
    assert response.context["shown"] == versions[2]
    row = response.content.decode().split('data-version="2"')[1].split("</tr>")[0]
    assert 'data-status="active"' in response.content.decode().split('data-version="2"')[1][:30]
    assert "bi-check2-circle" in row


def test_the_per_class_precision_recall_and_f1_are_shown(client, owner, project, versions):
    client.force_login(owner)
    response = client.get(models_url(project))
    report = response.context["report"]
    assert [row["name"] for row in report["per_class"]] == ["coffee", "other"]
    table = response.content.decode().split('id="per-class"')[1].split("</table>")[0]
    assert "96.0%" in table and "98.0%" in table and "97.0%" in table


def test_the_charts_get_the_confusion_matrix_and_curves_as_json(client, owner, project, versions):
    client.force_login(owner)
    response = client.get(models_url(project, version=1))
    content = response.content.decode()
    data = json.loads(content.split('<script id="model-charts" type="application/json">')[1]
                      .split("</script>")[0])  # fmt: skip
    assert data["classes"] == ["coffee", "other"]
    assert data["confusion_matrix"] == [[49, 1], [2, 48]]
    assert data["epochs"] == [1, 2, 3, 4, 5, 6]
    assert data["history"]["val_loss"] == versions[1].metrics["history"]["val_loss"]
    assert data["best_epoch"] == 5
    assert data["colors"] == [c.color for c in project.classes.order_by("order")]
    assert "vendor/chartjs/chart.umd.min.js" in content
    assert 'id="confusion-chart"' in content and 'id="loss-chart"' in content


def test_a_version_is_shown_in_detail_when_asked_for(client, owner, project, versions):
    client.force_login(owner)
    assert client.get(models_url(project, version=3)).context["shown"] == versions[3]
    # An unknown number falls back to the active version.
    assert client.get(models_url(project, version=42)).context["shown"] == versions[2]


def test_a_version_with_bare_metrics_still_renders(client, owner, project):
    """Older or partial metrics (no history, no per-class) leave their parts empty."""
    make_version(project, 1, ModelVersionStatus.ACTIVE, 0.9, 0.9)
    version = project.model_versions.get()
    version.metrics = {"accuracy": 0.9}
    version.save()
    client.force_login(owner)
    response = client.get(models_url(project))
    assert response.status_code == 200
    assert "Not recorded for this version." in response.content.decode()


def test_without_a_version_the_page_says_how_to_get_one(client, owner, project):
    client.force_login(owner)
    content = client.get(models_url(project)).content.decode()
    assert 'id="no-versions"' in content
    assert "model-charts" not in content


def test_owners_see_activate_and_retrain_buttons(client, owner, project, versions):
    client.force_login(owner)
    content = client.get(models_url(project)).content.decode()
    assert content.count("activate-button") == 2  # v1 (roll back) and v3, not the active v2
    assert "Roll back" in content
    assert 'id="retrain-button"' in content


@pytest.mark.parametrize("role", ["annotator", "viewer"])
def test_other_members_see_no_buttons(client, project, versions, role, request):
    client.force_login(request.getfixturevalue(role))
    content = client.get(models_url(project)).content.decode()
    assert "activate-button" not in content
    assert 'id="retrain-button"' not in content


def test_the_models_page_costs_a_fixed_number_of_queries(
    client, owner, project, versions, django_assert_num_queries
):
    client.force_login(owner)
    client.get(models_url(project))
    # session, user, project, role, versions (with runs), classes, unfinished run, the
    # data-health card's counts and latest check
    with django_assert_num_queries(9):
        client.get(models_url(project))
    for number in range(4, 14):
        make_version(project, number, ModelVersionStatus.CANDIDATE, 0.9, 0.9)
    with django_assert_num_queries(9):
        client.get(models_url(project))


def test_activating_a_candidate_makes_it_active_and_retires_the_old_one(
    client, owner, project, versions
):
    client.force_login(owner)
    response = client.post(reverse("classifier:model-version-activate", args=[versions[3].pk]))
    assert response.status_code == 302
    assert response.url == models_url(project)
    versions[2].refresh_from_db()
    versions[3].refresh_from_db()
    assert versions[3].status == ModelVersionStatus.ACTIVE
    assert versions[3].activated_by == owner
    assert versions[2].status == ModelVersionStatus.RETIRED
    assert "Version 3 is now active" in messages_of(response)[0]


def test_activating_a_retired_version_is_the_rollback(client, owner, project, versions):
    client.force_login(owner)
    client.post(
        reverse("classifier:model-version-activate", args=[versions[1].pk]),
        {"next": models_url(project, version=1)},
    )
    versions[1].refresh_from_db()
    assert versions[1].status == ModelVersionStatus.ACTIVE


def test_activating_goes_back_to_the_page_named_in_next_but_never_elsewhere(
    client, owner, project, versions
):
    client.force_login(owner)
    url = reverse("classifier:model-version-activate", args=[versions[3].pk])
    assert client.post(url, {"next": "/projects/1/models/?version=3"}).url == (
        "/projects/1/models/?version=3"
    )
    assert client.post(url, {"next": "https://evil.example/"}).url == models_url(project)


def test_activating_queues_a_re_prediction_of_the_images(
    client,
    owner,
    project,
    versions,
    predicted_images,
    django_capture_on_commit_callbacks,
    broker_down,
):
    """The service queues prediction jobs after commit; without a broker they stay queued
    with the reason, and the Jobs page shows them."""
    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("classifier:model-version-activate", args=[versions[3].pk]))
    job = PredictionJob.objects.get(model_version=versions[3])
    assert job.status == JobStatus.QUEUED
    assert sorted(job.image_ids) == sorted(image.pk for image in predicted_images.values())


def test_activating_needs_post(client, owner, versions):
    client.force_login(owner)
    assert (
        client.get(reverse("classifier:model-version-activate", args=[versions[3].pk])).status_code
        == 405
    )
    assert not TrainingRun.objects.filter(status=JobStatus.QUEUED).exists()
