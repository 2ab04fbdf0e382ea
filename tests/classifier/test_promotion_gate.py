"""The promotion gate: a new version replaces the active one only when it is at least as
accurate on validation and no class's validation recall drops by more than the project's
margin; ties go to more labels; a pinned version is never replaced automatically."""

import pytest

from classifier import services
from classifier.models import ModelVersion, ModelVersionStatus
from classifier.worker import training_run_execute
from tests.classifier.factories import make_version
from tests.factories import ProjectFactory
from tests.support.labeled_images import add_labeled

pytestmark = pytest.mark.django_db


def version_with(project, number, *, accuracy, recalls, labels=400, status="candidate"):
    """A version whose validation accuracy and per-class validation recalls are given."""
    version = make_version(project, number, status, test=accuracy, validation=accuracy)
    version.metrics["validation_per_class"] = {
        name: {"precision": 0.9, "recall": recall, "f1": 0.9, "support": 50}
        for name, recall in recalls.items()
    }
    per_class = labels // 2
    version.counts = {"train": {"coffee": per_class, "other": labels - per_class}}
    version.save()
    return version


def test_the_first_version_is_promoted():
    project = ProjectFactory()
    candidate = version_with(project, 1, accuracy=0.9, recalls={"coffee": 0.9, "other": 0.9})

    verdict = services.promotion_gate(candidate=candidate, active=None, recall_margin=0.02)

    assert verdict.promote
    assert verdict.reason == "Activated: first version (validation accuracy 0.900)."


def test_a_better_version_that_forgets_a_class_stays_a_candidate_naming_the_class():
    project = ProjectFactory()
    active = version_with(project, 1, accuracy=0.90, recalls={"coffee": 0.90, "other": 0.90},
                          status="active")  # fmt: skip
    candidate = version_with(project, 2, accuracy=0.92, recalls={"coffee": 0.86, "other": 0.98})

    verdict = services.promotion_gate(candidate=candidate, active=active, recall_margin=0.02)

    assert not verdict.promote
    assert verdict.reason == (
        "Candidate: validation recall of 'coffee' would drop from 0.900 (active v1) to 0.860, "
        "4.0 points, more than the 2-point margin."
    )


def test_a_recall_drop_within_the_margin_does_not_hold_a_better_version_back():
    project = ProjectFactory()
    active = version_with(project, 1, accuracy=0.90, recalls={"coffee": 0.90, "other": 0.90},
                          status="active")  # fmt: skip
    candidate = version_with(project, 2, accuracy=0.92, recalls={"coffee": 0.88, "other": 0.96})

    verdict = services.promotion_gate(candidate=candidate, active=active, recall_margin=0.02)

    assert verdict.promote
    assert "beat v1's 0.900" in verdict.reason


def test_the_margin_is_the_projects():
    project = ProjectFactory()
    active = version_with(project, 1, accuracy=0.90, recalls={"coffee": 0.90, "other": 0.90},
                          status="active")  # fmt: skip
    candidate = version_with(project, 2, accuracy=0.92, recalls={"coffee": 0.86, "other": 0.98})

    assert services.promotion_gate(candidate=candidate, active=active, recall_margin=0.05).promote


def test_a_less_accurate_version_stays_a_candidate():
    project = ProjectFactory()
    active = version_with(project, 1, accuracy=0.95, recalls={"coffee": 0.9, "other": 0.9},
                          status="active")  # fmt: skip
    candidate = version_with(project, 2, accuracy=0.94, recalls={"coffee": 0.9, "other": 0.9})

    verdict = services.promotion_gate(candidate=candidate, active=active, recall_margin=0.02)

    assert not verdict.promote
    assert verdict.reason == "Candidate: validation accuracy 0.940 did not reach active v1's 0.950."


def test_a_tie_goes_to_the_version_trained_on_more_labels():
    project = ProjectFactory()
    active = version_with(project, 1, accuracy=1.0, recalls={"coffee": 1.0, "other": 1.0},
                          labels=62, status="active")  # fmt: skip
    candidate = version_with(project, 2, accuracy=1.0, recalls={"coffee": 1.0, "other": 1.0},
                             labels=77)  # fmt: skip

    verdict = services.promotion_gate(candidate=candidate, active=active, recall_margin=0.02)

    assert verdict.promote
    assert verdict.reason == (
        "Activated: validation accuracy 1.000 equals active v1's, on more labels (77 against 62)."
    )


def test_a_tie_on_no_more_labels_keeps_the_active_version():
    project = ProjectFactory()
    active = version_with(project, 1, accuracy=1.0, recalls={"coffee": 1.0, "other": 1.0},
                          labels=77, status="active")  # fmt: skip
    candidate = version_with(project, 2, accuracy=1.0, recalls={"coffee": 1.0, "other": 1.0},
                             labels=77)  # fmt: skip

    verdict = services.promotion_gate(candidate=candidate, active=active, recall_margin=0.02)

    assert not verdict.promote
    assert "on no more labels (77 against 77)" in verdict.reason


def test_a_pinned_active_version_is_never_replaced_automatically():
    project = ProjectFactory()
    active = version_with(project, 1, accuracy=0.5, recalls={"coffee": 0.5, "other": 0.5},
                          status="active", labels=10)  # fmt: skip
    active.pinned = True
    candidate = version_with(project, 2, accuracy=1.0, recalls={"coffee": 1.0, "other": 1.0})

    verdict = services.promotion_gate(candidate=candidate, active=active, recall_margin=0.02)

    assert not verdict.promote
    assert verdict.reason.startswith("Candidate: active v1 is pinned by an owner")


def test_a_retrain_on_more_labels_with_the_same_accuracy_replaces_the_active_version(
    labeled_project, owner
):
    # The tiny backbone separates these colours perfectly: every version scores 1.0.
    project = labeled_project()
    first = train(project, owner)
    add_labeled(project, count=3)

    second = train(project, owner)

    first.refresh_from_db()
    assert first.validation_accuracy == second.validation_accuracy == 1.0
    assert second.status == ModelVersionStatus.ACTIVE
    assert second.promotion_decision == "promoted"
    assert "on more labels (30 against 24)" in second.promotion_reason
    assert first.status == ModelVersionStatus.RETIRED


def test_a_retrain_on_the_same_labels_stays_a_candidate_with_its_reason_kept(
    labeled_project, owner
):
    project = labeled_project()
    train(project, owner)

    second = train(project, owner)

    assert second.status == ModelVersionStatus.CANDIDATE
    assert second.promotion_decision == "held"
    assert second.promotion_reason == second.status_reason
    assert "on no more labels" in second.status_reason


def test_a_retrain_keeps_a_pinned_version_active(labeled_project, owner):
    project = labeled_project()
    first = train(project, owner)
    services.model_version_pin(model_version=first, pinned=True, pinned_by=owner)
    add_labeled(project, count=3)

    second = train(project, owner)

    first.refresh_from_db()
    assert first.status == ModelVersionStatus.ACTIVE and first.pinned
    assert second.status == ModelVersionStatus.CANDIDATE
    assert "pinned" in second.status_reason


def test_pinning_a_candidate_activates_it_and_unpinning_resumes_promotion(labeled_project, owner):
    project = labeled_project()
    first = train(project, owner)
    second = train(project, owner)  # same labels: stays a candidate

    services.model_version_pin(model_version=second, pinned=True, pinned_by=owner)

    first.refresh_from_db()
    second.refresh_from_db()
    assert (second.status, second.pinned) == (ModelVersionStatus.ACTIVE, True)
    assert second.promotion_decision == "activated"
    assert first.status == ModelVersionStatus.RETIRED

    services.model_version_pin(model_version=second, pinned=False, pinned_by=owner)
    add_labeled(project, count=3)
    third = train(project, owner)

    assert third.status == ModelVersionStatus.ACTIVE
    assert not ModelVersion.objects.get(pk=second.pk).pinned


def train(project, owner) -> ModelVersion:
    run, _ = services.training_run_start(project=project, requested_by=owner)
    training_run_execute(run_id=run.pk, worker="test@here")
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    return run.model_version
