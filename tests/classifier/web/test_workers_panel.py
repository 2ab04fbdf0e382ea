"""The workers panel asks real workers for their status (classifier.selectors.workers_status:
one broadcast of the classifier_status command through Celery's public Control.broadcast)."""

import os

import pytest
from django.urls import reverse

from classifier import selectors
from tests.support.processes import wait_until


def listed(timeout: float = 2) -> dict[str, dict]:
    return {worker["hostname"]: worker for worker in selectors.workers_status(timeout=timeout)}


def answering(worker) -> None:
    """Wait for a worker just started to answer: "ready." is logged a moment before its
    event loop subscribes to the broadcast channel (Redis delivers a broadcast to the
    subscribers of the moment only)."""
    wait_until(lambda: worker.name in listed(timeout=1), timeout=30, message=worker.name)


def test_a_running_worker_answers_with_its_queues_pool_and_process(worker):
    answering(worker)
    status = listed()[worker.name]

    assert status["hostname"] == worker.name
    assert status["queues"] == ["training", "prediction"]
    assert status["pool"] == "solo"
    assert status["pid"] == worker.process.pid
    assert status["pid"] != os.getpid()


def test_every_worker_answers_the_one_broadcast_listed_by_hostname(
    worker, start_worker, transactional_db
):
    other = start_worker(name="a-prediction-worker@localhost", queues="prediction")
    answering(other)

    workers = listed()

    assert {worker.name, other.name} <= set(workers)
    assert workers[other.name]["queues"] == ["prediction"]
    hostnames = [status["hostname"] for status in selectors.workers_status(timeout=2)]
    assert hostnames == sorted(hostnames)


def test_a_stopped_worker_is_no_longer_listed(start_worker, transactional_db):
    gone = start_worker(name="short-lived@localhost", queues="prediction")
    answering(gone)

    gone.stop()

    assert gone.name not in listed(timeout=1)


@pytest.mark.django_db(transaction=True)
def test_the_workers_panel_shows_the_running_worker(client, viewer, project, worker):
    answering(worker)
    client.force_login(viewer)

    content = client.get(reverse("classifier:project-workers", args=[project.pk])).content.decode()

    assert f'data-hostname="{worker.name}"' in content
    assert "No workers online." not in content
