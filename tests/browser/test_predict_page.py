"""The "Try the model" page in a real browser against a real Celery worker: photos dropped
on it are predicted by the project's active version (the worker runs the job the page asks
the API for) and each shows its class and confidence; a file that is not an image says so
without spoiling the others."""

import re

import pytest
from playwright.sync_api import expect

from classifier import services
from classifier.models import JobStatus, PredictionJob
from classifier.worker import training_run_execute
from labeling.models import Split
from tests.browser.test_classifier import celery_worker, worker  # noqa: F401  (the module's worker)
from tests.browser.test_projects import drop_files
from tests.factories import ProjectFactory, png_bytes
from tests.support.labeled_images import CLASS_COLORS, FAST_TRAINING, labeled_image

pytestmark = [pytest.mark.browser, pytest.mark.worker]

JOB_TIMEOUT_MS = 120_000


@pytest.fixture
def trained_project(owner, worker):  # noqa: F811
    project = ProjectFactory(name="Coffee or not", created_by=owner)
    seed = 1
    for split, count in ((Split.TRAIN, 6), (Split.VALIDATION, 3), (Split.TEST, 3)):
        for label in ("coffee", "other"):
            for _ in range(count):
                labeled_image(project, label=label, split=split, seed=seed * 11)
                seed += 1
    run, _ = services.training_run_start(
        project=project, requested_by=owner, hyperparameters=FAST_TRAINING
    )
    training_run_execute(run_id=run.pk, worker="test@here")
    run.refresh_from_db()
    assert run.status == JobStatus.SUCCEEDED, run.error
    return project


def test_dropped_photos_get_the_active_versions_prediction(page_for, owner, trained_project):
    page = page_for(owner)
    page.goto(f"/projects/{trained_project.pk}/")
    page.get_by_role("link", name="Try the model").click()
    expect(page).to_have_url(re.compile(rf"/projects/{trained_project.pk}/predict/$"))
    expect(page.get_by_text("Model version 1 (the active one)")).to_be_visible()

    drop_files(
        page,
        "#dropzone",
        [
            ("mug.png", png_bytes(color=CLASS_COLORS["coffee"], seed=9001), "image/png"),
            ("sky.png", png_bytes(color=CLASS_COLORS["other"], seed=9002), "image/png"),
            ("notes.png", b"not a picture at all", "image/png"),
        ],
    )
    cards = page.locator(".prediction")
    expect(cards).to_have_count(3)
    for name in ("mug.png", "sky.png"):
        card = cards.filter(has_text=name)
        expect(card.locator(".prediction-label")).to_have_text(
            re.compile("^(coffee|other)$"), timeout=JOB_TIMEOUT_MS
        )
        expect(card.locator(".prediction-confidence")).to_have_text(re.compile(r"^\d+%$"))
        expect(card.locator(".prediction-probabilities > div")).to_have_count(2)
    refused = cards.filter(has_text="notes.png").locator(".prediction-status")
    expect(refused).to_contain_text("notes.png: not an image", timeout=JOB_TIMEOUT_MS)
    expect(refused).not_to_contain_text("Pillow")
    # The photos went through the worker as ad-hoc jobs (one each, once the server refused
    # their batch because of notes.png), not into the project.
    jobs = PredictionJob.objects.filter(kind="ad_hoc", status=JobStatus.SUCCEEDED)
    assert sorted(r["name"] for job in jobs for r in job.results) == ["mug.png", "sky.png"]
    assert trained_project.images.count() == 24


def test_without_an_active_version_the_page_says_what_to_do(page_for, owner):
    project = ProjectFactory(name="New", created_by=owner)
    page = page_for(owner)
    page.goto(f"/projects/{project.pk}/predict/")
    expect(page.locator("#no-active-version")).to_contain_text("no active model yet")
    expect(page.locator("#dropzone")).to_have_count(0)
