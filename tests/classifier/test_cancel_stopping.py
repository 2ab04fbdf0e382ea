"""After a cancel, the Jobs page can tell a worker still on the job from one that stopped:
the worker's last heartbeat on the job comes after the cancel once it has let go."""

from datetime import timedelta

import pytest
from django.utils import timezone

from classifier import services
from classifier.models import JobStatus, TrainingRun
from classifier.selectors import job_worker_stopping, workers_with_versions
from classifier.worker import training as worker_training
from classifier.worker import training_run_execute
from tests.classifier.factories import TrainingRunFactory

pytestmark = pytest.mark.django_db


def test_a_worker_that_notices_the_cancel_lets_go_of_the_run(project, owner, monkeypatch):
    run = TrainingRunFactory(project=project, status=JobStatus.QUEUED)

    def cancelled_meanwhile(run, progress):
        services.training_run_cancel(run=run)
        assert job_worker_stopping(TrainingRun.objects.get(pk=run.pk))
        progress.update(force=True, progress=50)  # the next progress write notices

    monkeypatch.setattr(worker_training, "_training_run_train", cancelled_meanwhile)
    training_run_execute(run_id=run.pk, worker="training@box-1")

    run.refresh_from_db()
    assert run.status == JobStatus.CANCELLED
    assert run.heartbeat_at >= run.finished_at
    assert not job_worker_stopping(run)


def test_a_silent_worker_is_not_waited_for(project):
    long_ago = timezone.now() - timedelta(hours=1)
    run = TrainingRunFactory(
        project=project,
        status=JobStatus.CANCELLED,
        worker="training@box-1",
        started_at=long_ago,
        heartbeat_at=long_ago,
        finished_at=long_ago + timedelta(seconds=1),
    )
    assert not job_worker_stopping(run)


def test_the_workers_panel_lists_a_worker_stopping_a_cancelled_run(project, owner):
    now = timezone.now()
    run = TrainingRunFactory(
        project=project,
        status=JobStatus.CANCELLED,
        worker="training@box-1",
        started_at=now - timedelta(seconds=30),
        heartbeat_at=now - timedelta(seconds=1),
        finished_at=now,
    )
    workers = workers_with_versions(user=owner, timeout=0.1, project=project)
    assert [(w["hostname"], w["busy_with"]) for w in workers] == [("training@box-1", [run])]
    TrainingRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now())
    assert workers_with_versions(user=owner, timeout=0.1, project=project) == []
