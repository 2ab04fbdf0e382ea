"""The project's labeling queue strategy: set in the admin and the API, read by the queue."""

import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from labeling.models import Project, QueueStrategy
from labeling.services import project_queue_strategy_set
from tests.labeling.admin.test_admin import form_data

pytestmark = pytest.mark.django_db


def test_a_new_project_orders_its_queue_by_the_benchmarks_winner_warm_start(project):
    assert project.queue_strategy == QueueStrategy.WARM_START


def test_owners_choose_the_strategy_on_the_admins_project_page(admin_client, project):
    page = admin_client.get(f"/admin/labeling/project/{project.pk}/change/")
    assert 'name="queue_strategy"' in page.content.decode()

    response = admin_client.post(
        f"/admin/labeling/project/{project.pk}/change/",
        {**form_data(page), "queue_strategy": "diversity"},
    )

    assert response.status_code == 302
    project.refresh_from_db()
    assert project.queue_strategy == "diversity"


def test_the_api_shows_the_strategy_and_takes_one_at_creation(owner):
    client = APIClient()
    client.force_authenticate(owner)

    created = client.post(
        "/api/projects/",
        {"name": "Birds", "classes": ["robin", "wren"], "queue_strategy": "margin"},
        format="json",
    )

    assert created.status_code == 201, created.json()
    assert created.json()["queue_strategy"] == "margin"
    assert Project.objects.get(name="Birds").queue_strategy == "margin"
    assert client.get(f"/api/projects/{created.json()['id']}/").json()["queue_strategy"] == "margin"


def test_an_unknown_strategy_is_refused(project):
    with pytest.raises(ValidationError, match="Unknown queue strategy"):
        project_queue_strategy_set(project=project, strategy="vibes")
