"""Training services against the database, running the worker side in this process with the
tiny backbone (the Celery plumbing is tested with real workers in test_workers.py)."""

import threading
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone

from classifier import services
from classifier.models import (
    Embedding,
    JobStatus,
    ModelVersion,
    ModelVersionStatus,
    PredictionJob,
    PredictionJobKind,
    TrainingPhase,
    TrainingRun,
)
from classifier.worker import training_run_execute
from classifier.worker.jobs import JobProgress
from labeling.models import Split
from tests.classifier.factories import ModelVersionFactory, TrainingRunFactory
from tests.factories import ProjectFactory
from tests.support.labeled_images import FAST_TRAINING, add_labeled

pytestmark = pytest.mark.django_db


def train(project, owner, **hyperparameters) -> TrainingRun:
    run, _ = services.training_run_start(
        project=project, requested_by=owner, hyperparameters={**FAST_TRAINING, **hyperparameters}
    )
    training_run_execute(run_id=run.pk, worker="test@here")
    run.refresh_from_db()
    return run


def test_start_queues_a_run_with_the_default_hyperparameters(labeled_project, owner):
    project = labeled_project()

    run, created = services.training_run_start(project=project, requested_by=owner)

    assert created
    assert run.status == JobStatus.QUEUED
    assert run.hyperparameters["learning_rate"] == 1e-3
    assert run.hyperparameters["backbone"] == "tiny"


def test_start_while_a_run_is_queued_returns_that_run(labeled_project, owner):
    project = labeled_project()
    first, _ = services.training_run_start(
        project=project, requested_by=owner, hyperparameters=FAST_TRAINING
    )

    second, created = services.training_run_start(
        project=project, requested_by=owner, hyperparameters=FAST_TRAINING
    )

    assert not created
    assert second == first
    assert TrainingRun.objects.filter(project=project).count() == 1


def test_start_replaces_a_running_run_whose_worker_went_silent(labeled_project, owner, settings):
    project = labeled_project()
    silent_since = timezone.now() - timedelta(seconds=settings.CLASSIFIER_JOB_HEARTBEAT_TIMEOUT + 1)
    dead = TrainingRunFactory(
        project=project, status=JobStatus.RUNNING, worker="training@gone", heartbeat_at=silent_since
    )

    run, created = services.training_run_start(
        project=project, requested_by=owner, hyperparameters=FAST_TRAINING
    )

    dead.refresh_from_db()
    assert created and run != dead
    assert dead.status == JobStatus.FAILED
    assert "training@gone stopped" in dead.error


def test_start_refuses_a_class_without_training_images(labeled_project, owner):
    project = labeled_project(per_split={Split.VALIDATION: 1, Split.TEST: 1})

    with pytest.raises(ValidationError, match="none yet for: coffee, other"):
        services.training_run_start(
            project=project, requested_by=owner, hyperparameters=FAST_TRAINING
        )


def test_start_refuses_a_project_without_test_images(labeled_project, owner):
    project = labeled_project(per_split={Split.TRAIN: 2, Split.VALIDATION: 1})

    with pytest.raises(ValidationError, match="test split has no labeled images"):
        services.training_run_start(
            project=project, requested_by=owner, hyperparameters=FAST_TRAINING
        )


def test_start_refuses_unknown_hyperparameters(labeled_project, owner):
    with pytest.raises(ValidationError, match="Unknown hyperparameter"):
        services.training_run_start(
            project=labeled_project(), requested_by=owner, hyperparameters={"dropout": 0.5}
        )


@pytest.mark.parametrize("blocks", [-1, 16, "two"])
def test_start_refuses_a_fine_tuning_depth_the_backbone_does_not_have(
    labeled_project, owner, blocks
):
    with pytest.raises(ValidationError, match=r"fine_tune_blocks|Invalid hyperparameter"):
        services.training_run_start(
            project=labeled_project(),
            requested_by=owner,
            hyperparameters={"fine_tune_blocks": blocks},
        )


def test_start_refuses_fine_tuning_with_a_backbone_that_cannot_be_fine_tuned(
    labeled_project, owner, settings
):
    settings.CLASSIFIER_BACKBONE = "tiny"
    with pytest.raises(ValidationError, match="Fine-tuning needs the efficientnet_lite0"):
        services.training_run_start(
            project=labeled_project(),
            requested_by=owner,
            hyperparameters={"fine_tune_blocks": 2},
        )
    assert not TrainingRun.objects.exists()


def test_first_run_produces_an_active_version_with_metrics(labeled_project, owner):
    project = labeled_project()

    run = train(project, owner)

    assert run.status == JobStatus.SUCCEEDED, run.error
    assert (run.progress, run.phase) == (100, TrainingPhase.EVALUATING)
    assert run.started_at <= run.finished_at
    version = run.model_version
    assert (version.version, version.status) == (1, ModelVersionStatus.ACTIVE)
    assert version.status_reason.startswith("Activated: first version")
    assert version.metrics["accuracy"] == version.test_accuracy
    assert set(version.metrics["per_class"]) == {"coffee", "other"}
    assert len(version.metrics["confusion_matrix"]) == 2
    assert version.hyperparameters["head"] == "logistic-regression"  # the default head
    assert version.hyperparameters["c"] in version.hyperparameters["c_grid"]
    assert version.counts[Split.TRAIN] == {"coffee": 6, "other": 6}
    assert version.class_ids == list(project.classes.values_list("pk", flat=True))
    assert default_storage.exists(version.artifact.name)


def test_a_retrain_embeds_only_the_new_images(labeled_project, owner):
    project = labeled_project()
    train(project, owner)
    add_labeled(project, count=2)

    run = train(project, owner)

    assert run.model_version.metrics["embedded"] == {"cached": 24, "new": 4}
    assert Embedding.objects.filter(backbone="tiny").count() == 28


def test_the_same_picture_in_two_projects_is_embedded_once(labeled_project, owner):
    first = labeled_project()
    train(first, owner)
    second = ProjectFactory(created_by=owner)
    for image in first.images.select_related("label"):  # the same pictures, uploaded again
        image.pk, image.project = None, second
        image.label = second.classes.get(name=image.label.name)
        image.save()

    run = train(second, owner)

    assert run.model_version.metrics["embedded"] == {"cached": 24, "new": 0}
    assert Embedding.objects.count() == 24


def test_a_retrain_that_does_not_beat_the_active_version_stays_a_candidate(labeled_project, owner):
    project = labeled_project()
    first = train(project, owner).model_version
    ModelVersion.objects.filter(pk=first.pk).update(validation_accuracy=1.01)  # unbeatable

    second = train(project, owner).model_version

    first.refresh_from_db()
    assert (second.version, second.status) == (2, ModelVersionStatus.CANDIDATE)
    assert second.status_reason.startswith("Candidate: validation accuracy")
    assert "did not reach active v1's 1.010" in second.status_reason
    assert first.status == ModelVersionStatus.ACTIVE


def test_a_retrain_that_beats_the_active_version_replaces_it_and_repredicts(
    labeled_project, owner, broker_down, django_capture_on_commit_callbacks
):
    project = labeled_project()
    first = train(project, owner).model_version
    ModelVersion.objects.filter(pk=first.pk).update(validation_accuracy=-1.0)

    with django_capture_on_commit_callbacks(execute=True):
        second = train(project, owner).model_version

    first.refresh_from_db()
    assert second.status == ModelVersionStatus.ACTIVE
    assert "beat v1's -1.000" in second.status_reason
    assert second.promotion_decision == "promoted"
    assert first.status == ModelVersionStatus.RETIRED
    repredict = PredictionJob.objects.get(model_version=second)
    assert repredict.kind == PredictionJobKind.REPREDICT
    assert repredict.total == project.images.count()


def test_a_retrain_that_replaces_the_active_version_cancels_its_queued_repredictions(
    labeled_project, owner
):
    # The same promotion as a user's activation (classifier.services.versions): the retired
    # version's re-prediction, still waiting for a worker, is not run for nothing.
    project = labeled_project()
    first = train(project, owner).model_version
    waiting = services.project_predictions_refresh(model_version=first)
    ModelVersion.objects.filter(pk=first.pk).update(validation_accuracy=-1.0)

    second = train(project, owner).model_version

    assert second.status == ModelVersionStatus.ACTIVE
    for job in waiting:
        job.refresh_from_db()
        assert job.status == JobStatus.CANCELLED
        assert job.error == "Superseded: v2 was activated."


def test_a_redelivered_message_for_a_finished_run_does_nothing(labeled_project, owner):
    project = labeled_project()
    run = train(project, owner)

    training_run_execute(run_id=run.pk, worker="test@here")

    assert ModelVersion.objects.filter(project=project).count() == 1
    run.refresh_from_db()
    assert run.status == JobStatus.SUCCEEDED


def test_a_redelivered_message_for_a_run_of_a_dead_worker_fails_it(labeled_project, owner):
    project = labeled_project()
    run = TrainingRunFactory(
        project=project, status=JobStatus.RUNNING, worker="training@host",
        heartbeat_at=timezone.now(),
    )  # fmt: skip

    # The same node name again: the worker that ran it was killed and came back.
    training_run_execute(run_id=run.pk, worker="training@host")

    run.refresh_from_db()
    assert run.status == JobStatus.FAILED
    assert "stopped while running this job" in run.error
    assert not ModelVersion.objects.filter(project=project).exists()


def test_a_message_for_a_run_another_live_worker_is_running_is_left_alone(labeled_project, owner):
    run = TrainingRunFactory(
        project=labeled_project(), status=JobStatus.RUNNING, worker="training@other",
        heartbeat_at=timezone.now(),
    )  # fmt: skip

    training_run_execute(run_id=run.pk, worker="training@me")

    run.refresh_from_db()
    assert (run.status, run.worker) == (JobStatus.RUNNING, "training@other")


def test_a_run_cancelled_while_training_writes_no_version(labeled_project, owner, monkeypatch):
    project = labeled_project()
    run, _ = services.training_run_start(
        project=project, requested_by=owner, hyperparameters=FAST_TRAINING
    )
    real_update = JobProgress.update

    def cancel_at_training(self, **fields):
        if fields.get("phase") == TrainingPhase.TRAINING:
            services.training_run_cancel(run=TrainingRun.objects.get(pk=run.pk))
        real_update(self, **fields)

    monkeypatch.setattr(JobProgress, "update", cancel_at_training)
    training_run_execute(run_id=run.pk, worker="test@here")

    run.refresh_from_db()
    assert run.status == JobStatus.CANCELLED
    assert not ModelVersion.objects.filter(project=project).exists()


def test_a_failure_while_writing_the_version_leaves_no_version_and_the_active_one_active(
    labeled_project, owner, monkeypatch
):
    project = labeled_project()
    active = ModelVersionFactory(project=project, version=1, status=ModelVersionStatus.ACTIVE)
    stored_before = set(default_storage.listdir(f"projects/{project.pk}/models")[1])

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(ModelVersion, "save", fail)
    run = train(project, owner)

    active.refresh_from_db()
    assert run.status == JobStatus.FAILED
    assert run.error == "OSError: disk full"
    assert active.status == ModelVersionStatus.ACTIVE
    assert ModelVersion.objects.filter(project=project).count() == 1
    assert set(default_storage.listdir(f"projects/{project.pk}/models")[1]) == stored_before


def test_a_run_past_its_time_limit_fails_with_that_error(labeled_project, owner, settings):
    settings.CLASSIFIER_TRAINING_TIME_LIMIT = 0

    run = train(labeled_project(), owner)

    assert run.status == JobStatus.FAILED
    assert "Time limit of 0 s exceeded" in run.error


def test_orphans_of_a_restarted_worker_are_settled(labeled_project, owner):
    project = labeled_project()
    run = TrainingRunFactory(
        project=project, status=JobStatus.RUNNING, worker="training@host",
        heartbeat_at=timezone.now(),
    )  # fmt: skip
    version = ModelVersionFactory(project=project, version=1)
    job = PredictionJob.objects.create(
        project=project, model_version=version, kind=PredictionJobKind.SELECTED,
        status=JobStatus.RUNNING, worker="training@host", heartbeat_at=timezone.now(),
        enqueued_at=timezone.now(),
    )  # fmt: skip

    settled = services.jobs_recover_orphans(worker="training@host")

    run.refresh_from_db()
    job.refresh_from_db()
    assert settled["training_runs_failed"] == 1
    assert run.status == JobStatus.FAILED
    assert job.status == JobStatus.QUEUED  # and sent again: predicting twice is harmless


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_to_train_start_one_run(labeled_project, owner, broker_down):
    project = labeled_project()
    barrier = threading.Barrier(4)
    results = []

    def ask():
        barrier.wait()
        try:
            results.append(services.training_run_start(project=project, requested_by=owner))
        finally:
            connection.close()

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 4
    assert len({run.pk for run, _ in results}) == 1
    assert sorted(created for _, created in results) == [False, False, False, True]
