"""Data health in a real browser, against a real Celery worker: an owner presses "Check now"
on the health page, the worker finds a planted leak and a planted label error, the counts
link to the filtered gallery, "Fix leaks" moves the group into one split, and the review
queue is answered with the keyboard (K keeps a label, R takes the suggestion).

The embeddings are written into the cache by the test (tests/support/data_health.py), so
what the check finds does not depend on the tiny backbone the worker runs.
"""

import pytest
from playwright.sync_api import expect

from classifier.models import HealthCheck, JobStatus, LabelCheckDecision, LabelCheckReview
from labeling.models import Image, Split
from tests.browser.support import wait_until
from tests.browser.test_classifier import celery_worker, worker  # noqa: F401  (fixtures)
from tests.support.data_health import cluster_vectors, image_with_embedding

pytestmark = [pytest.mark.browser, pytest.mark.worker]


@pytest.fixture
def planted(project):
    """Two clean classes, a copy of a train photo in test, an "other" image that looks like
    coffee and a "coffee" image that looks like the others."""
    splits = [Split.TRAIN, Split.TRAIN, Split.VALIDATION, Split.TEST]
    for centre, label in enumerate(("coffee", "other")):
        for index, vector in enumerate(cluster_vectors(12, centre=centre, seed=centre)):
            image_with_embedding(
                project, vector, split=splits[index % 4], label=label, seed=100 * centre + index
            )
    vector = cluster_vectors(1, centre=4, seed=3)[0]
    original = image_with_embedding(project, vector, split=Split.TRAIN, seed=901)
    copy = image_with_embedding(project, vector * 1.01, split=Split.TEST, seed=902)
    wrong = [
        image_with_embedding(
            project,
            cluster_vectors(1, centre=looks, seed=41)[0],
            split=Split.TRAIN,
            label=labeled,
            seed=950 + looks,
        )
        for looks, labeled in ((0, "other"), (1, "coffee"))
    ]
    return {"original": original, "copy": copy, "wrong": wrong}


def test_check_fix_leaks_and_review_label_errors(
    page_for,
    worker,  # noqa: F811  (the fixture imported above)
    project,
    owner,
    planted,
):
    page = page_for(owner)
    page.goto(f"/projects/{project.pk}/health/")
    expect(page.locator("#health-check-status")).to_contain_text("Not checked yet")

    page.locator("#health-check-button").click()
    check = HealthCheck.objects.get(project=project)
    wait_until(
        lambda: HealthCheck.objects.get(pk=check.pk).status == JobStatus.SUCCEEDED, timeout=120
    )
    page.reload()
    expect(page.locator('[data-count="split_leak"]')).to_contain_text("1")
    expect(page.locator('[data-count="label_error"]')).to_contain_text("2")
    expect(page.locator(".leak-group img")).to_have_count(2)

    # The leak count opens the gallery filtered to the leaked images.
    page.locator('[data-count="split_leak"]').click()
    expect(page).to_have_url(
        f"{page.url.split('/projects/')[0]}/projects/{project.pk}/gallery/?issue=split_leak"
    )
    expect(page.locator("[data-image]")).to_have_count(2)

    page.goto(f"/projects/{project.pk}/health/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#fix-leaks-button").click()
    expect(page.locator("#no-leaks")).to_be_visible()
    assert Image.objects.get(pk=planted["copy"].pk).split == Split.TRAIN

    # The review queue: the first suspect kept with K, the second relabeled with R.
    page.locator("#review-queue-link").click()
    card = page.locator("#label-error-card")
    expect(card.locator("#given-by")).to_contain_text(owner.username)
    first = int(card.get_attribute("data-image"))
    page.keyboard.press("k")
    expect(card).not_to_have_attribute("data-image", str(first))
    second = int(card.get_attribute("data-image"))
    page.keyboard.press("r")
    expect(page.locator("#queue-empty")).to_be_visible()

    assert {first, second} == {image.pk for image in planted["wrong"]}
    decisions = dict(LabelCheckReview.objects.values_list("image_id", "decision"))
    assert decisions == {first: LabelCheckDecision.KEPT, second: LabelCheckDecision.RELABELED}
    labels = {image.pk: image.label.name for image in planted["wrong"]}
    assert Image.objects.get(pk=first).label.name == labels[first]  # kept
    assert Image.objects.get(pk=second).label.name != labels[second]  # the suggestion
