"""The dashboard's Model card, the Retrain button on it and the project navigation."""

import pytest
from django.urls import reverse

from classifier.models import JobStatus
from tests.classifier.factories import TrainingRunFactory


def dashboard(client, user, project) -> str:
    client.force_login(user)
    return client.get(reverse("labeling:project-dashboard", args=[project.pk])).content.decode()


def test_the_dashboard_shows_the_active_models_summary(client, viewer, project, predicted_images):
    content = dashboard(client, viewer, project)
    panel = content.split('id="model-panel"')[1].split('id="conflicts"')[0]
    assert 'id="active-model"' in panel
    assert "v2" in panel and 'data-metric="test_accuracy">97.5%' in panel
    assert "4 / 4" in panel  # v2 predicted all four images


def test_owners_get_a_retrain_button_on_the_dashboard(client, owner, project):
    content = dashboard(client, owner, project)
    form = content.split('id="retrain-form"')[1].split("</form>")[0]
    assert reverse("classifier:project-retrain", args=[project.pk]) in content
    assert 'id="retrain-button"' in form and "csrfmiddlewaretoken" in form


@pytest.mark.parametrize("role", ["annotator", "viewer"])
def test_other_members_get_no_retrain_button(client, project, role, request):
    content = dashboard(client, request.getfixturevalue(role), project)
    assert 'id="retrain-button"' not in content
    assert 'id="no-model"' in content


def test_staff_get_the_retrain_button(client, staff, project):
    assert 'id="retrain-button"' in dashboard(client, staff, project)


def test_a_training_under_way_is_shown_with_its_progress(client, viewer, project, jobs):
    content = dashboard(client, viewer, project)
    under_way = content.split('id="training-under-way"')[1].split("</div>")[0]
    assert "Retraining running: training, epoch 7 (72%)" in " ".join(under_way.split())


def test_a_failed_last_training_is_shown_with_its_error(client, owner, project, versions):
    TrainingRunFactory(project=project, status=JobStatus.FAILED, error="ValueError: no images")
    content = dashboard(client, owner, project)
    assert "ValueError: no images" in content.split('id="training-failed"')[1]


@pytest.mark.parametrize(
    "page",
    [
        "labeling:project-dashboard",
        "labeling:project-gallery",
        "classifier:project-models",
        "classifier:project-jobs",
    ],
)
def test_every_project_page_links_to_models_and_jobs(client, viewer, project, page):
    content = dashboard(client, viewer, project) if page == "labeling:project-dashboard" else None
    if content is None:
        client.force_login(viewer)
        content = client.get(reverse(page, args=[project.pk])).content.decode()
    header = content.split("<main")[1].split("</h1>")[1]
    assert f'href="{reverse("classifier:project-models", args=[project.pk])}"' in header
    assert f'href="{reverse("classifier:project-jobs", args=[project.pk])}"' in header


def test_the_dashboard_panel_costs_a_fixed_number_of_queries(
    client, owner, project, predicted_images, django_assert_num_queries
):
    client.force_login(owner)
    url = reverse("labeling:project-dashboard", args=[project.pk])
    client.get(url)
    # labeling's own queries, the model card's four (see project_model_summary) and the
    # data-health card's two (counts, latest check)
    with django_assert_num_queries(17) as before:
        client.get(url)
    TrainingRunFactory.create_batch(5, project=project, status=JobStatus.FAILED)
    with django_assert_num_queries(len(before.captured_queries)):
        client.get(url)
