"""A worker keeps its database connection from one job to the next (a new one costs 3-8 ms on
PostgreSQL), yet never runs a job on a connection that is broken or past CONN_MAX_AGE.

Driven through Celery's own Django fixup and task signals, in this process, the way a worker
calls them around every task (labelplatform.celery)."""

import pytest
from celery.fixups.django import DjangoWorkerFixup
from celery.signals import task_postrun, task_prerun
from django.db import connection

from classifier.worker.tasks import prediction_job_execute
from labelplatform.celery import app

# Rows are not needed; the connection must not sit in the test's wrapping transaction, which
# close_old_connections (rightly) treats as a connection to close.
pytestmark = pytest.mark.django_db(transaction=True)


def run_one_job() -> None:
    """What a worker does around a task: the fixup's and our receivers, then a query."""
    fixup = DjangoWorkerFixup(app)
    task = prediction_job_execute
    fixup.on_task_prerun(sender=task)
    task_prerun.send(sender=task, task_id="job", task=task, args=(), kwargs={})
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    fixup.on_task_postrun(sender=task)
    task_postrun.send(sender=task, task_id="job", task=task, args=(), kwargs={}, retval=None)


def test_consecutive_jobs_share_one_database_connection():
    run_one_job()
    first = connection.connection
    run_one_job()
    run_one_job()
    assert first is not None
    assert connection.connection is first


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite has no server to drop a connection"
)
def test_a_connection_the_server_dropped_is_replaced_before_the_next_job():
    run_one_job()
    dropped = connection.connection
    dropped.close()  # as after a database restart: Django still holds the dead connection

    run_one_job()

    assert connection.connection is not dropped
    assert connection.is_usable()


def test_with_conn_max_age_zero_each_job_gets_a_new_connection(settings):
    settings.DATABASES["default"]["CONN_MAX_AGE"] = 0
    connection.settings_dict["CONN_MAX_AGE"] = 0
    try:
        run_one_job()
        assert connection.connection is None  # closed after the job, as Django does per request
    finally:
        connection.settings_dict["CONN_MAX_AGE"] = 60
