"""The classifier in a real browser, against a real Celery worker: press Retrain in the
Django admin and on the dashboard, watch the Jobs page follow the run to its end without a
reload, then the Models page's charts, the image page's predictions and the gallery's
prediction filters. Takes the README's screenshots of those pages and of the admin (see the
screenshot fixture).

The worker is a real `celery worker` subprocess (classifier tests' worker_start) on the tiny
backbone: these tests are about the pages and the plumbing, not the model's quality.
"""

import re

import pytest
from playwright.sync_api import expect

from classifier.models import JobStatus, ModelVersion, Prediction, PredictionJob, TrainingRun
from labeling.models import Image, Split
from labelplatform.celery import app as celery_app
from tests.browser.support import wait_until
from tests.factories import ProjectFactory, UserFactory
from tests.support.broker import broker_use, queues_purge
from tests.support.coffee_or_not import photos_store
from tests.support.workers import worker_start

pytestmark = [pytest.mark.browser, pytest.mark.worker]

# A training on the tiny backbone takes seconds; the shared machine may make it slower.
JOB_TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def celery_worker(session_broker, django_db_setup, django_db_blocker, tmp_path_factory):
    """One real worker on both queues for this module's tests, on the session's broker."""
    if celery_app.conf.broker_url != session_broker:
        broker_use(session_broker)
    queues_purge()
    worker = worker_start(tmp_path=tmp_path_factory.mktemp("browser-worker"), backbone="tiny")
    yield worker
    worker.stop()


@pytest.fixture
def worker(celery_worker, session_broker, settings):
    """The worker, with the web side (the live server) on its broker and backbone."""
    if celery_worker.process.poll() is not None:
        pytest.fail(f"the worker died:\n{celery_worker.log()[-5000:]}")
    settings.CLASSIFIER_BACKBONE = "tiny"
    if celery_app.conf.broker_url != session_broker:
        # Only on a change: a switch closes the connections the live server may be using.
        broker_use(session_broker)
    return celery_worker


@pytest.fixture
def coffee_project(owner, photos):
    """Real photos, labeled, in every split: 8 + 4 + 4 per class."""
    project = ProjectFactory(
        name="Coffee or not",
        created_by=owner,
        description="Is there a cup of coffee in the photo?",
    )
    project.classes.filter(name="coffee").update(color="#8b5a2b")
    project.classes.filter(name="other").update(color="#0d6efd")
    start = 0
    for split, count in ((Split.TRAIN, 8), (Split.VALIDATION, 4), (Split.TEST, 4)):
        for kind in ("coffee", "other"):
            photos_store(
                project=project,
                user=owner,
                paths=photos[kind][start : start + count],
                split=split,
                label=project.classes.get(name=kind),
            )
        start += count
    return project


def watch_run_finish(page, run: TrainingRun, *, while_training=None) -> list[str]:
    """Follow the run's row on the Jobs page (updated by htmx, never reloaded) until it has
    succeeded; returns the statuses it showed on the way. `while_training(page)` is called
    once if the page is caught showing the run in its training phase."""
    page.evaluate("window.notReloaded = true")
    row = page.locator(f'tr.training-run[data-run="{run.pk}"]')
    expect(row).to_be_visible()
    seen = [row.get_attribute("data-status")]
    pending = [while_training] if while_training else []

    def finished() -> bool:
        status = row.get_attribute("data-status")
        if status != seen[-1]:
            seen.append(status)
        if status == JobStatus.FAILED:
            raise AssertionError(f"the run failed: {TrainingRun.objects.get(pk=run.pk).error}")
        if pending and status == JobStatus.RUNNING and "Training" in row.inner_text():
            pending.pop()(page)
        return status == JobStatus.SUCCEEDED

    wait_until(finished, timeout=JOB_TIMEOUT_MS / 1000)
    assert page.evaluate("window.notReloaded") is True
    return seen


def prediction_jobs_done() -> bool:
    return not PredictionJob.objects.exclude(
        status__in=[JobStatus.SUCCEEDED, JobStatus.CANCELLED]
    ).exists()


def test_retrain_from_the_admin_and_watch_the_jobs_page(
    page_for, worker, coffee_project, screenshot
):
    staff = UserFactory(username="ada-admin", is_staff=True, is_superuser=True)
    page = page_for(staff)
    page.goto(f"/admin/labeling/project/{coffee_project.pk}/change/")
    page.click("#retrain-button")

    message = page.locator(".messagelist .success")
    expect(message).to_contain_text("Coffee or not: retraining queued as training run #")
    run = TrainingRun.objects.get(project=coffee_project)
    message.get_by_role("link", name="Jobs page").click()
    expect(page).to_have_url(re.compile(rf"/projects/{coffee_project.pk}/jobs/$"))

    seen = watch_run_finish(page, run)
    assert seen[0] in (JobStatus.QUEUED, JobStatus.RUNNING), seen
    row = page.locator(f'tr.training-run[data-run="{run.pk}"]')
    expect(row.locator(".job-progress")).to_have_attribute("aria-valuenow", "100")
    expect(row.get_by_role("link", name="v1")).to_be_visible()

    # Activating v1 re-predicts the project; those jobs appear and finish on the same page.
    prediction_job = page.locator("tr.prediction-job").first
    expect(prediction_job).to_have_attribute(
        "data-status", JobStatus.SUCCEEDED, timeout=JOB_TIMEOUT_MS
    )
    expect(prediction_job).to_contain_text("Re-prediction after activation")
    expect(prediction_job).to_contain_text(f"{Image.objects.count()} / {Image.objects.count()}")

    # The worker, now idle, answers: its queues and the head it has loaded.
    # A solo worker still finishing a job is first listed as busy (from its heartbeat, no
    # queues); the panel refreshes every 10 s, so allow a few refreshes on a loaded machine.
    workers = page.locator(f'#workers .worker[data-hostname="{worker.name}"]')
    expect(workers).to_be_visible(timeout=30_000)
    expect(workers.locator(".worker-queue")).to_have_text(
        ["training", "prediction"], timeout=45_000
    )
    expect(workers.locator(".worker-versions")).to_contain_text("v1", timeout=45_000)

    # The admin lists the run and its version.
    page.goto("/admin/classifier/trainingrun/")
    expect(page.locator("#result_list")).to_contain_text("Succeeded")
    page.goto("/admin/classifier/modelversion/")
    expect(page.locator("#result_list")).to_contain_text("Active")

    # The admin's image list (navigation sidebar folded): thumbnails, labels, predictions.
    page.goto(f"/admin/labeling/image/?project__id__exact={coffee_project.pk}")
    page.evaluate("localStorage.setItem('django.admin.navSidebarIsOpen', 'false')")
    page.reload()
    expect(page.locator("#result_list img").first).to_be_visible()
    screenshot(page, "admin")


@pytest.mark.slow
def test_retrain_from_the_dashboard_then_models_image_and_gallery(
    page_for, worker, owner, coffee_project, screenshot, settings
):
    """With the real backbone (the worker loads it on first use), so the README's pictures
    show a real model's figures."""
    settings.CLASSIFIER_BACKBONE = "efficientnet_lite0"
    page = page_for(owner)
    page.on("dialog", lambda dialog: dialog.accept())  # the Activate button asks first
    page.goto(f"/projects/{coffee_project.pk}/")
    expect(page.locator("#no-model")).to_be_visible()
    page.click("#retrain-button")
    expect(page).to_have_url(re.compile(rf"/projects/{coffee_project.pk}/jobs/$"))
    expect(page.locator(".alert-success")).to_contain_text("Retraining queued")
    watch_run_finish(page, TrainingRun.objects.get(project=coffee_project))
    wait_until(prediction_jobs_done, timeout=JOB_TIMEOUT_MS / 1000)

    # A second training, from the Models page, on the same images (their embeddings come
    # from the cache). The Jobs page is pictured while it trains, if the test catches it.
    page.goto(f"/projects/{coffee_project.pk}/models/")
    page.click("#retrain-button")
    expect(page).to_have_url(re.compile(rf"/projects/{coffee_project.pk}/jobs/$"))
    pictured = []
    watch_run_finish(
        page,
        TrainingRun.objects.filter(project=coffee_project).first(),
        while_training=lambda page: pictured.append(screenshot(page, "jobs")),
    )
    if not pictured:
        screenshot(page, "jobs")

    # Whichever of the two is not active gets activated with its button: v2 if it stayed a
    # candidate, else v1 (the rollback). Its re-prediction follows.
    page.goto(f"/projects/{coffee_project.pk}/models/")
    expect(page.locator("tr.model-version")).to_have_count(2)
    inactive = page.locator('tr.model-version:not([data-status="active"])')
    number = inactive.get_attribute("data-version")
    inactive.locator(".activate-button").click()
    expect(page.locator(".alert-success")).to_contain_text(f"Version {number} is now active")
    expect(page.locator(f'tr.model-version[data-version="{number}"]')).to_have_attribute(
        "data-status", "active"
    )
    wait_until(prediction_jobs_done, timeout=JOB_TIMEOUT_MS / 1000)
    active = ModelVersion.objects.get(project=coffee_project, status="active")
    assert active.version == int(number)
    assert Prediction.objects.filter(model_version=active).count() == Image.objects.count()

    page.goto(f"/projects/{coffee_project.pk}/models/")
    # The epoch charts only for a head trained in epochs (the default logistic head has none).
    charts = page.locator("canvas").evaluate_all("canvases => canvases.map(c => c.id)")
    assert "confusion-chart" in charts
    for chart in charts:
        page.wait_for_function(f"() => Chart.getChart('{chart}') !== undefined")
    screenshot(page, "models", full_page=True)

    # The dashboard's model card.
    page.goto(f"/projects/{coffee_project.pk}/")
    expect(page.locator("#active-model")).to_contain_text(f"v{active.version}")

    # The image page: both versions' predictions beside the label.
    image = Image.objects.filter(project=coffee_project, split=Split.TEST).first()
    page.goto(f"/images/{image.pk}/")
    predictions = page.locator("#predictions .prediction")
    expect(predictions).to_have_count(2)
    expect(predictions.first.locator(".probability")).to_have_count(2)
    screenshot(page, "image")

    # The gallery: badges on the thumbnails, and the filter by predicted class.
    page.goto(f"/projects/{coffee_project.pk}/gallery/")
    expect(page.locator(".prediction-badge")).to_have_count(Image.objects.count())
    page.select_option("#id_predicted", label="coffee")
    expect(page).to_have_url(re.compile(r"predicted=\d+"))
    predicted_coffee = Prediction.objects.filter(model_version=active, label__name="coffee").count()
    expect(page.locator(".prediction-badge")).to_have_count(predicted_coffee)
    for badge in page.locator(".prediction-badge").all():
        assert badge.get_attribute("data-predicted") == "coffee"
    screenshot(page, "gallery")
