"""A project's classifier settings (backbone, promotion recall margin, unsure threshold) in the
API and the admin."""

import pytest
from rest_framework.test import APIClient

from tests.labeling.admin.test_admin import form_data

pytestmark = pytest.mark.django_db


def api_for(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def url(project) -> str:
    return f"/api/projects/{project.pk}/classifier-settings/"


def test_the_defaults_are_the_platforms_backbone_a_two_point_margin_and_no_own_threshold(
    project, viewer
):
    body = api_for(viewer).get(url(project)).json()

    assert body["backbone"] == ""
    assert body["backbone_used"] == "tiny"  # the tests' CLASSIFIER_BACKBONE
    assert body["promotion_recall_margin"] == 0.02
    assert body["unsure_threshold"] is None
    assert "efficientnet_lite2" in body["backbone_choices"]


def test_owners_change_them_and_omitted_ones_are_kept(project, owner):
    response = api_for(owner).patch(
        url(project), {"backbone": "efficientnet_lite1", "unsure_threshold": 0.7}, format="json"
    )

    assert response.status_code == 200, response.json()
    project.refresh_from_db()
    assert (project.backbone, project.unsure_threshold) == ("efficientnet_lite1", 0.7)
    assert project.promotion_recall_margin == 0.02


def test_an_unknown_backbone_is_a_400_listing_the_valid_ones(project, owner):
    response = api_for(owner).patch(url(project), {"backbone": "vgg16"}, format="json")

    assert response.status_code == 400
    assert "valid backbones: efficientnet_lite0" in str(response.json())


def test_annotators_cannot_change_them(project, annotator):
    response = api_for(annotator).patch(url(project), {"unsure_threshold": 0.5}, format="json")

    assert response.status_code == 403


def test_the_admin_shows_and_saves_them(admin_client, project):
    change = f"/admin/labeling/project/{project.pk}/change/"
    page = admin_client.get(change)
    assert {"backbone", "promotion_recall_margin", "unsure_threshold"} <= set(
        page.context["adminform"].form.fields
    )
    data = form_data(page)
    data.update(backbone="efficientnet_lite2", promotion_recall_margin="0.05",
                unsure_threshold="0.65")  # fmt: skip

    response = admin_client.post(change, data)

    assert response.status_code == 302
    project.refresh_from_db()
    assert (project.backbone, project.promotion_recall_margin, project.unsure_threshold) == (
        "efficientnet_lite2", 0.05, 0.65,
    )  # fmt: skip
