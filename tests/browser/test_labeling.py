"""The labeling page in a real browser: the keyboard, the background saves, a phone."""

import itertools
import statistics

import pytest
from playwright.sync_api import expect

from labeling.models import Annotation, Image
from tests.browser.support import PHONE, interleaved, wait_until
from tests.factories import ProjectFactory
from tests.support.coffee_or_not import photos_store

pytestmark = pytest.mark.browser


@pytest.fixture
def coffee_project(owner, annotator, photos):
    """The coffee project with real photos, all still unlabeled; queue order = this order."""
    project = ProjectFactory(
        name="Coffee or not",
        created_by=owner,
        description="Is there a cup of coffee in the photo?",
    )
    project.classes.filter(name="coffee").update(color="#8b5a2b")
    project.classes.filter(name="other").update(color="#0d6efd")
    from labeling.services import membership_set

    membership_set(project=project, user=annotator, role="annotator")
    photos_store(project=project, user=owner, paths=interleaved(photos, 40))
    return project


def queue(project) -> list[int]:
    return list(
        Image.objects.filter(project=project)
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)
    )


def labels_by(user) -> dict[int, str]:
    return dict(Annotation.objects.filter(user=user).values_list("image_id", "label_class__name"))


def shows(page, image_id: int) -> None:
    expect(page.locator("body")).to_have_attribute("data-current-image", str(image_id))
    expect(page.locator(f'#frame img[data-image-id="{image_id}"]')).to_be_visible()


def test_labeling_with_the_keyboard(page_for, coffee_project, annotator, screenshot):
    a, b, c, d = queue(coffee_project)[:4]
    page = page_for(annotator)
    page.goto(f"/projects/{coffee_project.pk}/label/")
    shows(page, a)

    page.keyboard.press("1")  # a: coffee
    shows(page, b)
    page.keyboard.press("2")  # b: other
    shows(page, c)
    page.keyboard.press("s")  # skip c
    shows(page, d)
    page.keyboard.press("z")  # undo the skip: c again
    shows(page, c)
    page.keyboard.press("Backspace")  # undo b's label: b again
    shows(page, b)
    wait_until(lambda: labels_by(annotator) == {a: "coffee"})
    page.keyboard.press("2")  # b: other again
    shows(page, c)
    page.keyboard.press("1")  # c: coffee
    shows(page, d)

    wait_until(lambda: labels_by(annotator) == {a: "coffee", b: "other", c: "coffee"})
    expect(page.locator("#session-count")).to_have_text("3")
    labeled = page.locator("[data-split-progress] [data-labeled]")
    expect(labeled.first).to_be_visible()
    wait_until(lambda: sum(int(text) for text in labeled.all_inner_texts()) == 3)
    screenshot(page, "label")


def test_the_next_image_shows_while_the_label_is_still_being_saved(
    page_for, coffee_project, annotator
):
    a, b = queue(coffee_project)[:2]
    page = page_for(annotator)
    held = []
    page.route("**/label/annotate/", lambda route: held.append(route))
    page.goto(f"/projects/{coffee_project.pk}/label/")
    shows(page, a)
    page.keyboard.press("1")
    shows(page, b)
    assert held and not Annotation.objects.exists()
    held[0].continue_()
    wait_until(lambda: labels_by(annotator) == {a: "coffee"})


def test_a_skipped_image_stays_away_after_a_reload(page_for, coffee_project, annotator):
    a, b = queue(coffee_project)[:2]
    page = page_for(annotator)
    page.goto(f"/projects/{coffee_project.pk}/label/")
    shows(page, a)
    page.keyboard.press("s")
    shows(page, b)
    page.wait_for_load_state("networkidle")
    page.reload()
    shows(page, b)


def test_labeling_until_the_queue_is_empty(page_for, owner, annotator, photos):
    project = ProjectFactory(created_by=owner)
    from labeling.services import membership_set

    membership_set(project=project, user=annotator, role="annotator")
    photos_store(project=project, user=owner, paths=interleaved(photos, 5))
    page = page_for(annotator)
    page.goto(f"/projects/{project.pk}/label/")
    for image_id in queue(project):
        shows(page, image_id)
        page.keyboard.press("2")
    expect(page.locator("#empty")).to_be_visible()
    expect(page.locator(".class-button").first).to_be_disabled()
    wait_until(lambda: len(labels_by(annotator)) == 5)


def test_the_labeling_page_works_on_a_phone(page_for, coffee_project, annotator, screenshot):
    a, b = queue(coffee_project)[:2]
    page = page_for(annotator, device=PHONE)
    page.goto(f"/projects/{coffee_project.pk}/label/")
    shows(page, a)
    height = PHONE["viewport"]["height"]
    image = page.locator("#frame img").bounding_box()
    assert image["height"] > 250
    for button in page.locator(".class-button").all():
        box = button.bounding_box()
        assert box["y"] + box["height"] <= height, "a class button is below the fold"
        assert box["height"] >= 44, "a class button is too small to tap"
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "label-phone")

    page.locator(".class-button", has_text="other").tap()
    shows(page, b)
    wait_until(lambda: labels_by(annotator) == {a: "other"})


def test_labeling_round_trip(page_for, coffee_project, annotator, capsys):
    """Key press to next image on screen, and the label POST (browser and server time).
    The figures are printed; bench/labeling_round_trip.py measures more labels."""
    ids = queue(coffee_project)[:21]
    page = page_for(annotator)
    page.goto(f"/projects/{coffee_project.pk}/label/")
    for image_id, next_id in itertools.pairwise(ids):
        shows(page, image_id)
        page.keyboard.press("1")
        shows(page, next_id)
    wait_until(lambda: len(labels_by(annotator)) == 20)
    page.wait_for_function("window.labelingMetrics.server.length >= 20")
    metrics = page.evaluate("window.labelingMetrics")
    assert len(metrics["shown"]) == 20
    with capsys.disabled():
        for name, label in [
            ("shown", "key press -> next image painted"),
            ("request", "label POST, browser round trip"),
            ("server", "label POST, server time"),
        ]:
            values = metrics[name]
            print(
                f"\n  labeling {label}: median {statistics.median(values):.1f} ms, "
                f"max {max(values):.1f} ms over {len(values)}",
                end="",
            )
