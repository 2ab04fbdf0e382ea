"""GET /api/model-versions/{id}/: the per-class metrics (test and validation), calibration,
backbone and promotion decision of a version; POST .../pin/ pins and unpins (owners)."""

import pytest
from rest_framework.test import APIClient

from classifier import services
from classifier.models import ModelVersionStatus
from classifier.worker import training_run_execute

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


@pytest.fixture
def version(labeled_project, owner):
    run, _ = services.training_run_start(project=labeled_project(), requested_by=owner)
    training_run_execute(run_id=run.pk, worker="test@here")
    run.refresh_from_db()
    return run.model_version


def test_a_version_shows_its_per_class_metrics_on_test_and_validation(version, viewer):
    body = client_for(viewer).get(f"/api/model-versions/{version.pk}/").json()

    metrics = body["metrics"]
    assert metrics["split"] == "test"
    assert set(metrics["per_class"]) == {"coffee", "other"}
    assert set(metrics["per_class"]["coffee"]) == {"precision", "recall", "f1", "support"}
    assert metrics["per_class"]["coffee"]["support"] == version.counts["test"]["coffee"]
    assert set(metrics["validation_per_class"]) == {"coffee", "other"}
    assert (
        metrics["validation_per_class"]["other"]["support"]
        == (version.counts["validation"]["other"])
    )


def test_a_version_shows_its_calibration_backbone_and_promotion(version, viewer):
    body = client_for(viewer).get(f"/api/model-versions/{version.pk}/").json()

    assert body["backbone"] == "tiny"
    assert body["calibration"]["temperature"] == version.calibration["temperature"]
    assert body["calibration"]["ece_before"] == version.calibration["ece_before"]
    assert body["calibration"]["ece_after"] == version.calibration["ece_after"]
    assert len(body["calibration"]["reliability"]) == 15
    assert body["promotion"] == {
        "decision": "promoted",
        "reason": "Activated: first version (validation accuracy 1.000).",
    }


def test_members_of_other_projects_do_not_see_a_version(version, outsider):
    response = client_for(outsider).get(f"/api/model-versions/{version.pk}/")

    assert response.status_code == 404


def test_owners_pin_a_candidate_which_becomes_active(version, labeled_project, owner):
    candidate = services.training_run_start(project=version.project, requested_by=owner)[0]
    training_run_execute(run_id=candidate.pk, worker="test@here")
    candidate = candidate.model_version
    assert candidate.status == ModelVersionStatus.CANDIDATE

    body = (
        client_for(owner)
        .post(f"/api/model-versions/{candidate.pk}/pin/", {"pinned": True}, format="json")
        .json()
    )

    assert (body["status"], body["pinned"]) == ("active", True)
    assert body["promotion"]["decision"] == "activated"
    version.refresh_from_db()
    assert version.status == ModelVersionStatus.RETIRED


def test_annotators_cannot_pin(version, annotator):
    response = client_for(annotator).post(
        f"/api/model-versions/{version.pk}/pin/", {"pinned": True}, format="json"
    )

    assert response.status_code == 403
