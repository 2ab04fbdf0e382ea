"""Clients waiting on jobs (`?wait=`) never take the threads that serve pages: a real gunicorn,
started as the run command starts it (2 processes x 4 threads), keeps answering the login page
and label POSTs while many waits are open; waits beyond the caps are answered 429 with
Retry-After (classifier.api.wait_slots). The figures under load: bench/long_polls.py."""

from __future__ import annotations

import os
import subprocess
import threading
import time

import pytest
import requests
from django.test import override_settings
from rest_framework.authtoken.models import Token

from classifier.api import wait_slots
from classifier.models import JobStatus
from scripts import run
from tests.classifier.factories import TrainingRunFactory
from tests.factories import ImageFactory, MembershipFactory, UserFactory
from tests.support import REPOSITORY
from tests.support.processes import die_with_parent, free_port, process_stop, wait_until
from tests.support.workers import database_url

pytestmark = pytest.mark.django_db(transaction=True)

WAITERS = 10
WAIT_SECONDS = 20
# Far above an answer from a free thread (milliseconds), far below a wait (20 s): only a page
# that queued behind the waits takes longer.
PAGE_SECONDS = 3


@pytest.fixture
def gunicorn_as_run_starts_it(tmp_path, settings):
    port = free_port()
    (web,) = [service for service in run.services(port=port) if service.name == "web"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "labelplatform.settings.test",
        "DATABASE_URL": database_url(),
        "MEDIA_ROOT": settings.MEDIA_ROOT,
    }
    log = (tmp_path / "gunicorn.log").open("wb")
    process = subprocess.Popen(
        web.command, cwd=REPOSITORY, env=env, stdout=log, stderr=subprocess.STDOUT,
        preexec_fn=die_with_parent,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            return requests.get(f"{base}/accounts/login/", timeout=5).ok
        except requests.RequestException:
            return False

    wait_until(answers, timeout=60, message="gunicorn to answer")
    yield base
    process_stop(process)
    log.close()


def token_of(user) -> str:
    return Token.objects.get_or_create(user=user)[0].key


def test_pages_and_labels_answer_fast_while_many_clients_wait_on_a_queued_training(
    gunicorn_as_run_starts_it, project, annotator
):
    base = gunicorn_as_run_starts_it
    run_row = TrainingRunFactory(project=project, status=JobStatus.QUEUED)  # never taken
    waiters = [UserFactory(username=f"script{i}") for i in range(WAITERS)]
    for user in waiters:
        MembershipFactory(project=project, user=user)
    image = ImageFactory(project=project)
    answers: list[tuple[int, float, str]] = []

    def wait_on_the_run(user) -> None:
        started = time.monotonic()
        response = requests.get(
            f"{base}/api/training-runs/{run_row.pk}/?wait={WAIT_SECONDS}",
            headers={"Authorization": f"Token {token_of(user)}"},
            timeout=WAIT_SECONDS + 30,
        )
        answers.append(
            (response.status_code, time.monotonic() - started, response.headers.get("Retry-After"))
        )

    threads = [threading.Thread(target=wait_on_the_run, args=(user,)) for user in waiters]
    for thread in threads:
        thread.start()
    time.sleep(1.5)  # every wait is open (or refused) by now

    page_seconds = []
    for _ in range(10):
        started = time.monotonic()
        assert requests.get(f"{base}/accounts/login/", timeout=60).status_code == 200
        page_seconds.append(time.monotonic() - started)
    started = time.monotonic()
    labeled = requests.post(
        f"{base}/api/images/{image.pk}/annotations/",
        json={"label": "coffee"},
        headers={"Authorization": f"Token {token_of(annotator)}"},
        timeout=60,
    )
    label_seconds = time.monotonic() - started
    for thread in threads:
        thread.join()

    assert max(page_seconds) < PAGE_SECONDS, page_seconds
    assert labeled.status_code == 201, labeled.text
    assert label_seconds < PAGE_SECONDS
    waited = [a for a in answers if a[0] == 200]
    refused = [a for a in answers if a[0] == 429]
    assert len(waited) + len(refused) == WAITERS
    # Two processes lend two threads each to waits: the rest were refused at once.
    assert 1 <= len(waited) <= 4
    assert all(seconds >= WAIT_SECONDS - 1 for _, seconds, _ in waited)
    assert all(seconds < PAGE_SECONDS and retry == "3" for _, seconds, retry in refused)


@override_settings(API_WAITS_PER_PROCESS=3, API_WAITS_PER_USER=1)
def test_one_user_holds_at_most_its_share_of_the_waits():
    with (
        wait_slots.wait_slot(1) as first,
        wait_slots.wait_slot(1) as second,
        wait_slots.wait_slot(2) as other_user,
    ):
        assert (first, second, other_user) == (True, False, True)
        assert wait_slots.waits_open() == 2
    assert wait_slots.waits_open() == 0


@override_settings(API_WAITS_PER_PROCESS=2, API_WAITS_PER_USER=5)
def test_a_process_lends_at_most_its_share_of_threads_to_waits():
    with wait_slots.wait_slot(1) as a, wait_slots.wait_slot(2) as b, wait_slots.wait_slot(3) as c:
        assert (a, b, c) == (True, True, False)


def test_a_wait_refused_is_answered_429_with_retry_after(api_client_for, project, owner, settings):
    settings.API_WAITS_PER_PROCESS = 0
    run_row = TrainingRunFactory(project=project, status=JobStatus.QUEUED)

    response = api_client_for(owner).get(f"/api/training-runs/{run_row.pk}/?wait=5")

    assert response.status_code == 429
    assert response["Retry-After"] == "3"
    assert "ask again after Retry-After" in response.json()["detail"]
    assert api_client_for(owner).get(f"/api/training-runs/{run_row.pk}/").status_code == 200


@pytest.fixture
def api_client_for():
    from rest_framework.test import APIClient

    def make(user):
        client = APIClient()
        client.force_authenticate(user)
        return client

    return make
