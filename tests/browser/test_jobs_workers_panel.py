"""The Jobs page's workers panel follows the jobs: a worker is busy while its job runs and no
longer once the job has finished or was cancelled and the worker let go of it; cancelling
asks first, and the run's row says when the worker has actually stopped."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from classifier.models import JobStatus, TrainingRun
from tests.classifier.factories import TrainingRunFactory
from tests.factories import ProjectFactory

pytestmark = pytest.mark.browser

WORKER = "training@box-1"
# The panel refreshes every few seconds; the machine is shared and slow at times.
REFRESH_MS = 20_000


@pytest.fixture
def running_run(owner):
    project = ProjectFactory(name="Coffee or not", created_by=owner)
    now = timezone.now()
    return TrainingRunFactory(
        project=project,
        status=JobStatus.RUNNING,
        progress=92,
        worker=WORKER,
        started_at=now,
        heartbeat_at=now,
    )


def test_the_panel_stops_showing_a_worker_busy_once_its_run_finished(page_for, owner, running_run):
    page = page_for(owner)
    page.goto(f"/projects/{running_run.project_id}/jobs/")
    worker = page.locator(f'.worker[data-hostname="{WORKER}"]')
    expect(worker).to_contain_text(f"training run #{running_run.pk} of Coffee or not (92%)")

    # The worker finishes the run and lets go of it.
    TrainingRun.objects.filter(pk=running_run.pk).update(
        status=JobStatus.SUCCEEDED, progress=100, finished_at=timezone.now(), heartbeat_at=None
    )
    expect(worker).to_have_count(0, timeout=REFRESH_MS)
    expect(page.locator("#workers-count")).to_have_text("0 online")
    expect(page.locator("#no-workers")).to_be_visible()


def test_cancel_asks_first_and_then_says_when_the_worker_has_stopped(page_for, owner, running_run):
    page = page_for(owner)
    page.goto(f"/projects/{running_run.project_id}/jobs/")
    row = page.locator(f'tr.training-run[data-run="{running_run.pk}"]')
    questions = []

    def answer(dialog, accept):
        questions.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda dialog: answer(dialog, False))
    row.get_by_role("button", name="Cancel").click()
    assert questions == [f"Cancel training run {running_run.pk}?"]
    running_run.refresh_from_db()
    assert running_run.status == JobStatus.RUNNING

    page.once("dialog", lambda dialog: answer(dialog, True))
    row.get_by_role("button", name="Cancel").click()
    expect(page.get_by_text(f"Training run {running_run.pk} is cancelled")).to_be_visible()
    # The worker is still on it until its next progress write notices the cancel.
    expect(row.locator(".job-phase")).to_contain_text("stopping")
    worker = page.locator(f'.worker[data-hostname="{WORKER}"]')
    expect(worker).to_contain_text(f"stopping cancelled training run #{running_run.pk}")

    # The worker notices and lets go of the run.
    TrainingRun.objects.filter(pk=running_run.pk).update(heartbeat_at=None)
    expect(row.locator(".job-phase")).to_contain_text(
        re.compile("the worker has stopped"), timeout=REFRESH_MS
    )
    expect(worker).to_have_count(0, timeout=REFRESH_MS)
