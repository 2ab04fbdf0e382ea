"""Deleting model versions in the admin: the confirmation page counts the predictions that go
with a version, and the active version stays however it is selected."""

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from tests.classifier.factories import PredictionFactory
from tests.factories import ImageFactory


def test_a_model_versions_confirmation_page_counts_its_predictions(admin_client, project, versions):
    version = versions[3]
    for _ in range(4):
        PredictionFactory(image=ImageFactory(project=project), model_version=version)
    response = admin_client.get(reverse("admin:classifier_modelversion_delete", args=[version.pk]))
    assert dict(response.context["model_count"])["predictions"] == 4


def test_the_delete_action_refuses_a_selection_with_the_active_version(
    admin_client, project, versions
):
    selected = [versions[1].pk, versions[2].pk]  # v2 is the project's active version
    admin_client.post(
        reverse("admin:classifier_modelversion_changelist"),
        {"action": "delete_selected", ACTION_CHECKBOX_NAME: selected, "post": "yes"},
    )
    assert project.model_versions.filter(pk__in=selected).count() == 2
