"""The periodic reconciliation of jobs (classifier.services.jobs_reconcile) against a real
Redis of the test's own: messages Redis lost are sent again, messages it still holds are not.
No worker runs here; the end-to-end version with a worker and beat is in test_faults.py."""

import os
import time
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from classifier import broker, services
from classifier.models import JobStatus, PredictionJob, PredictionJobKind, TrainingRun
from labelplatform.celery import app as celery_app
from tests.classifier.factories import (
    ModelVersionFactory,
    PredictionJobFactory,
    TrainingRunFactory,
)
from tests.support.broker import broker_use

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis(private_redis):
    """The broker of this test: a redis-server of its own, which the test may flush."""
    private_redis.start()
    broker_use(private_redis.url)
    return private_redis


@pytest.fixture
def reconcile_after(settings):
    settings.CLASSIFIER_JOB_RECONCILE_AFTER = 60
    return 60


def sent_job(project, **fields) -> PredictionJob:
    """A queued prediction job whose message went to the broker, `age` seconds ago."""
    job = PredictionJobFactory(model_version=ModelVersionFactory(project=project), **fields)
    assert services.jobs.job_dispatch(job)
    job.refresh_from_db()
    return job


def sent_ago(job, seconds: float) -> None:
    type(job).objects.filter(pk=job.pk).update(
        enqueued_at=timezone.now() - timedelta(seconds=seconds)
    )
    job.refresh_from_db()


def in_broker() -> set[str]:
    return broker.task_ids_in_broker(queues=["training", "prediction"])


def test_the_broker_lists_the_task_ids_of_waiting_messages(redis, project):
    job = sent_job(project)

    assert in_broker() == {job.celery_task_id}


def test_a_queued_job_whose_message_redis_lost_is_sent_again(redis, project, reconcile_after):
    job = sent_job(project)
    lost_task_id = job.celery_task_id
    sent_ago(job, reconcile_after + 5)
    redis.client().flushdb()  # Redis restarted without its data

    counts = services.jobs_reconcile()

    job.refresh_from_db()
    assert counts["lost_messages_resent"] == 1
    assert job.status == JobStatus.QUEUED
    assert job.celery_task_id != lost_task_id
    assert in_broker() == {job.celery_task_id}
    assert timezone.now() - job.enqueued_at < timedelta(seconds=10)
    assert job.dispatch_attempts == 2


def test_a_lost_training_run_is_sent_again_to_the_training_queue(redis, project, reconcile_after):
    run = TrainingRunFactory(project=project, status=JobStatus.QUEUED)
    assert services.jobs.job_dispatch(run)
    sent_ago(run, reconcile_after + 5)
    redis.client().flushdb()

    services.jobs_reconcile()

    run.refresh_from_db()
    assert redis.client().llen("training") == 1
    assert in_broker() == {run.celery_task_id}


def test_a_queued_job_whose_message_is_still_waiting_is_not_sent_again(
    redis, project, reconcile_after
):
    job = sent_job(project)
    sent_ago(job, reconcile_after + 5)

    counts = services.jobs_reconcile()

    assert counts["lost_messages_resent"] == 0
    assert PredictionJob.objects.get(pk=job.pk).celery_task_id == job.celery_task_id
    assert redis.client().llen("prediction") == 1


def test_a_message_a_worker_holds_unacknowledged_is_not_sent_again(redis, project, reconcile_after):
    job = sent_job(project)
    sent_ago(job, reconcile_after + 5)
    with celery_app.connection_for_read() as connection:
        queue = connection.SimpleQueue("prediction")
        taken = queue.get(timeout=2)  # taken, not acknowledged: kombu's `unacked` hash
        assert taken.headers["id"] == job.celery_task_id
        assert redis.client().llen("prediction") == 0

        counts = services.jobs_reconcile()

        assert counts["lost_messages_resent"] == 0
        assert PredictionJob.objects.get(pk=job.pk).celery_task_id == job.celery_task_id
        taken.ack()
        queue.close()


def test_a_job_sent_moments_ago_is_left_alone_even_if_its_message_is_not_seen(
    redis, project, reconcile_after
):
    job = sent_job(project)
    sent_ago(job, reconcile_after - 20)
    redis.client().flushdb()

    counts = services.jobs_reconcile()

    assert counts["lost_messages_resent"] == 0
    assert PredictionJob.objects.get(pk=job.pk).celery_task_id == job.celery_task_id


def test_a_job_never_sent_is_sent(redis, project):
    job = PredictionJobFactory(
        model_version=ModelVersionFactory(project=project), dispatch_error="Redis was down"
    )

    counts = services.jobs_reconcile()

    job.refresh_from_db()
    assert counts["unsent_sent"] == 1
    assert job.enqueued_at is not None and job.dispatch_error == ""
    assert in_broker() == {job.celery_task_id}


def test_running_jobs_whose_worker_went_silent_are_settled(redis, project, settings):
    settings.CLASSIFIER_JOB_HEARTBEAT_TIMEOUT = 120
    silent = timezone.now() - timedelta(seconds=300)
    job = PredictionJobFactory(
        model_version=ModelVersionFactory(project=project),
        status=JobStatus.RUNNING,
        worker="gone@host",
        heartbeat_at=silent,
        enqueued_at=silent,
    )
    run = TrainingRunFactory(
        project=project, status=JobStatus.RUNNING, worker="gone@host", heartbeat_at=silent
    )

    counts = services.jobs_reconcile()

    job.refresh_from_db()
    run.refresh_from_db()
    assert counts["prediction_jobs_requeued"] == 1 and counts["training_runs_failed"] == 1
    assert job.status == JobStatus.QUEUED and in_broker() == {job.celery_task_id}
    assert run.status == JobStatus.FAILED and "gone@host stopped" in run.error


def test_nothing_to_do_reads_nothing_from_the_broker(redis, project, reconcile_after):
    sent_job(project)  # sent just now: not a candidate
    redis.stop()  # any broker read would raise

    counts = services.jobs_reconcile()

    assert counts["lost_messages_resent"] == 0


# --- Ad-hoc files -------------------------------------------------------------------------


def ad_hoc_file(name: str, *, age: timedelta) -> str:
    stored = default_storage.save(f"jobs/{name}", ContentFile(b"picture"))
    stamp = time.time() - age.total_seconds()
    os.utime(default_storage.path(stored), (stamp, stamp))
    return stored


def test_ad_hoc_files_no_job_needs_are_deleted_once_old(redis, project):
    old = services.AD_HOC_FILES_GRACE + timedelta(minutes=5)
    orphan = ad_hoc_file("of-a-deleted-job-0", age=old)
    fresh = ad_hoc_file("being-uploaded-now-0", age=timedelta(seconds=1))
    waiting = ad_hoc_file("of-a-queued-job-0", age=old)
    PredictionJobFactory(
        model_version=ModelVersionFactory(project=project),
        kind=PredictionJobKind.AD_HOC,
        inputs=[{"name": "mug.png", "path": waiting}],
        enqueued_at=timezone.now(),
    )

    counts = services.jobs_reconcile()

    assert counts["ad_hoc_files_deleted"] == 1
    assert not default_storage.exists(orphan)
    assert default_storage.exists(fresh)
    assert default_storage.exists(waiting)
    for stored in (fresh, waiting):
        default_storage.delete(stored)


# --- Model artifacts ----------------------------------------------------------------------


def aged(stored: str, *, age: timedelta) -> str:
    stamp = time.time() - age.total_seconds()
    os.utime(default_storage.path(stored), (stamp, stamp))
    return stored


def test_model_artifacts_no_version_points_to_are_deleted_once_old(redis, project):
    old = services.ARTIFACT_ORPHAN_GRACE + timedelta(minutes=1)
    kept = ModelVersionFactory(project=project)
    aged(kept.artifact.name, age=old)
    # A worker killed inside its final commit: the file saved, the version never committed.
    orphan = aged(
        default_storage.save(f"projects/{project.pk}/models/v2-head.bin", ContentFile(b"x")),
        age=old,
    )
    # A project deleted since: its versions' rows went, their files stayed.
    of_deleted_project = aged(
        default_storage.save("projects/999999/models/v1-head.bin", ContentFile(b"x")), age=old
    )
    # A version being written right now: saved, its row not committed yet.
    being_written = default_storage.save(
        f"projects/{project.pk}/models/v3-head.bin", ContentFile(b"x")
    )

    counts = services.jobs_reconcile()

    assert counts["orphan_artifacts_deleted"] == 2
    assert not default_storage.exists(orphan)
    assert not default_storage.exists(of_deleted_project)
    assert default_storage.exists(kept.artifact.name)
    assert default_storage.exists(being_written)
    default_storage.delete(being_written)


def test_the_reconciliation_is_routed_to_the_prediction_queue_and_scheduled(settings):
    route = celery_app.amqp.router.route({}, "classifier.tasks.jobs_reconcile")
    entry = settings.CELERY_BEAT_SCHEDULE["classifier-jobs-reconcile"]

    assert route["queue"].name == "prediction"
    assert entry["task"] == "classifier.tasks.jobs_reconcile"
    assert entry["schedule"] == settings.CLASSIFIER_JOB_RECONCILE_INTERVAL
    assert settings.CELERY_BEAT_SCHEDULER == "celery.beat:Scheduler"  # no schedule file


def test_a_training_run_row_is_never_resent_once_it_runs(redis, project, reconcile_after):
    run = TrainingRunFactory(project=project, status=JobStatus.QUEUED)
    assert services.jobs.job_dispatch(run)
    sent_ago(run, reconcile_after + 5)
    redis.client().flushdb()
    TrainingRun.objects.filter(pk=run.pk).update(
        status=JobStatus.RUNNING, worker="w@h", heartbeat_at=timezone.now()
    )

    services.jobs_reconcile()

    assert redis.client().llen("training") == 0
