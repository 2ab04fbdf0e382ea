"""Deleting a project in the admin: the confirmation page sums up what goes (counts per kind
of row, a fixed number of queries however many images), and the delete is the service's, so
the stored files go with the rows."""

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from labeling.models import Image, Project
from labeling.services import annotation_create
from tests.classifier.factories import ModelVersionFactory, PredictionFactory
from tests.factories import ImageFactory, ProjectFactory


def labeled_and_predicted(project, owner, count: int) -> None:
    version = ModelVersionFactory(project=project)
    for _ in range(count):
        image = ImageFactory(project=project)
        annotation_create(image=image, user=owner, label_class=project.classes.first())
        PredictionFactory(image=image, model_version=version)


def test_the_confirmation_page_counts_what_the_delete_takes(admin_client, project, owner):
    labeled_and_predicted(project, owner, 3)
    response = admin_client.get(reverse("admin:labeling_project_delete", args=[project.pk]))
    assert response.status_code == 200
    summary = dict(response.context["model_count"])
    assert (summary["images"], summary["annotations"], summary["predictions"]) == (3, 3, 3)
    assert summary["model versions"] == 1
    assert "3 images" in response.content.decode()


def test_the_confirmation_page_costs_the_same_queries_for_more_images(admin_client, project, owner):
    labeled_and_predicted(project, owner, 2)
    url = reverse("admin:labeling_project_delete", args=[project.pk])
    admin_client.get(url)
    with CaptureQueriesContext(connection) as few:
        admin_client.get(url)
    labeled_and_predicted(project, owner, 20)
    with CaptureQueriesContext(connection) as many:
        admin_client.get(url)
    assert len(many.captured_queries) == len(few.captured_queries)


def test_deleting_in_the_admin_deletes_the_stored_files(
    admin_client, project, owner, stored_files, django_capture_on_commit_callbacks
):
    labeled_and_predicted(project, owner, 2)
    assert stored_files()  # the images, their thumbnails, the model's artifact
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:labeling_project_delete", args=[project.pk]), {"post": "yes"}
        )
    assert response.status_code == 302
    assert not Project.objects.filter(pk=project.pk).exists()
    assert stored_files() == []


def test_the_delete_action_deletes_the_stored_files_of_every_selected_project(
    admin_client, project, owner, stored_files, django_capture_on_commit_callbacks
):
    other = ProjectFactory(created_by=owner)
    labeled_and_predicted(project, owner, 1)
    ImageFactory(project=other)
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("admin:labeling_project_changelist"),
            {"action": "delete_selected", ACTION_CHECKBOX_NAME: [project.pk, other.pk],
             "post": "yes"},
        )  # fmt: skip
    assert Image.objects.count() == 0
    assert stored_files() == []
