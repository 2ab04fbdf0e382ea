"""The model as a labeling partner, in a real browser: a suggestion accepted by a key, bulk
accept in the grid and its undo, skipped images brought back, previous/next, zoom and pan."""

import re

import pytest
from playwright.sync_api import expect

from labeling.models import Annotation, Split
from labeling.services import membership_set
from tests.browser.support import wait_until
from tests.classifier.suggestions_support import predicted_image
from tests.factories import ImageFactory, ProjectFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def project(owner, annotator):
    project = ProjectFactory(name="Coffee or not", created_by=owner)
    membership_set(project=project, user=annotator, role="annotator")
    return project


def shows(page, image_id: int) -> None:
    expect(page.locator("body")).to_have_attribute("data-current-image", str(image_id))
    expect(page.locator(f'#frame img[data-image-id="{image_id}"]')).to_be_visible()


def annotations_of(user) -> dict[int, tuple[str, bool]]:
    return {
        image_id: (label, from_suggestion)
        for image_id, label, from_suggestion in Annotation.objects.filter(user=user).values_list(
            "image_id", "label_class__name", "from_suggestion"
        )
    }


def test_enter_and_space_accept_the_suggestion_and_number_keys_still_choose(
    page_for, project, annotator, screenshot
):
    # The queue is least confident first once a model is active.
    first = predicted_image(project, label="other", confidence=0.61)
    second = predicted_image(project, label="coffee", confidence=0.72)
    third = predicted_image(project, label="coffee", confidence=0.83)
    fourth = predicted_image(project, label="coffee", confidence=0.9)
    page = page_for(annotator)
    page.goto(f"/projects/{project.pk}/label/")

    shows(page, first.pk)
    suggested = page.locator(".class-button.suggested")
    expect(suggested).to_have_count(1)
    expect(suggested).to_contain_text("other")
    expect(suggested.locator(".suggestion-confidence")).to_have_text("61%")
    expect(page.locator("#suggestion-line")).to_contain_text("other (61%)")
    screenshot(page, "label-suggestion")

    page.keyboard.press("Enter")
    shows(page, second.pk)
    expect(page.locator(".class-button.suggested")).to_contain_text("coffee")
    page.keyboard.press(" ")
    shows(page, third.pk)
    page.keyboard.press("2")  # "other", against the suggestion
    shows(page, fourth.pk)

    wait_until(
        lambda: (
            annotations_of(annotator)
            == {
                first.pk: ("other", True),
                second.pk: ("coffee", True),
                third.pk: ("other", False),
            }
        )
    )


def test_a_blind_split_shows_no_suggestion(page_for, project, annotator):
    blind = predicted_image(project, label="coffee", confidence=0.7, split=Split.TEST)
    page = page_for(annotator)
    page.goto(f"/projects/{project.pk}/label/")

    shows(page, blind.pk)
    expect(page.locator(".class-button.suggested")).to_have_count(0)
    expect(page.locator("#suggestion-line")).to_be_hidden()
    page.keyboard.press("Enter")
    expect(page.locator("#last-action")).to_contain_text("No suggestion")
    assert not Annotation.objects.exists()


def test_bulk_accept_across_the_filter_then_undo(page_for, project, annotator, screenshot):
    sure = [predicted_image(project, label="coffee", confidence=0.97) for _ in range(3)]
    unsure = predicted_image(project, label="other", confidence=0.55)
    blind = predicted_image(project, label="coffee", confidence=0.99, split=Split.TEST)
    page = page_for(annotator)
    page.goto(f"/projects/{project.pk}/grid/")

    expect(page.locator("#accept-filter-count")).to_have_text("3")
    questions = []

    def answer(dialog):
        questions.append(dialog.message)
        dialog.accept()

    page.on("dialog", answer)
    page.locator("#accept-filter").click()

    expect(page.locator(".alert-success")).to_contain_text("Accepted the suggestion on 3 images")
    assert questions and "Accept 3 suggestions at or above 95%" in questions[0]
    assert annotations_of(annotator) == {image.pk: ("coffee", True) for image in sure}
    expect(page.locator("#undo-bar")).to_contain_text("3 images")
    screenshot(page, "grid-bulk-accept")

    page.locator("#undo-batch").click()

    expect(page.locator(".alert-success")).to_contain_text("Undone: 3 images")
    expect(page.locator("#undo-bar")).to_have_count(0)
    assert annotations_of(annotator) == {}
    assert not Annotation.objects.filter(image__in=[unsure, blind]).exists()


def test_bulk_accept_on_the_page_at_a_lower_threshold(page_for, project, annotator):
    images = [
        predicted_image(project, label="coffee", confidence=0.97),
        predicted_image(project, label="other", confidence=0.85),
        predicted_image(project, label="other", confidence=0.6),
    ]
    page = page_for(annotator)
    page.goto(f"/projects/{project.pk}/grid/")

    page.locator("#accept-threshold").fill("80")
    page.locator("#accept-page").click()

    expect(page.locator(".alert-success")).to_contain_text("on 2 images (≥ 80%)")
    assert annotations_of(annotator) == {
        images[0].pk: ("coffee", True),
        images[1].pk: ("other", True),
    }


def test_a_grid_label_can_be_undone(page_for, project, annotator):
    images = [ImageFactory(project=project) for _ in range(2)]
    page = page_for(annotator)
    page.goto(f"/projects/{project.pk}/grid/")

    page.locator("#select-all").click()
    page.keyboard.press("1")
    expect(page.locator("#undo-bar")).to_contain_text("grid label on 2 images")
    assert set(annotations_of(annotator)) == {image.pk for image in images}

    page.locator("#undo-batch").click()

    expect(page.locator(".alert-success")).to_contain_text("Undone: 2 images")
    assert annotations_of(annotator) == {}


def test_skipped_images_are_brought_back_after_a_reload(page_for, project, annotator):
    a, b, c = (ImageFactory(project=project) for _ in range(3))
    page = page_for(annotator)
    page.goto(f"/projects/{project.pk}/label/")

    shows(page, a.pk)
    page.keyboard.press("s")
    shows(page, b.pk)
    expect(page.locator("#show-skipped")).to_contain_text("Show skipped (1)")
    page.keyboard.press("s")
    shows(page, c.pk)
    page.keyboard.press("1")
    expect(page.locator("#empty")).to_be_visible()
    expect(page.locator("#empty")).to_contain_text("apart from the 2 you skipped")
    # The label is saved in the background: reload once it is stored, or the reloaded page
    # can still offer the image (seen on PostgreSQL under load).
    wait_until(lambda: c.pk in annotations_of(annotator))

    page.reload()
    expect(page.locator("#empty")).to_contain_text("apart from the 2 you skipped")
    expect(page.locator("#show-skipped")).to_contain_text("Show skipped (2)")
    expect(page.locator("#empty")).to_be_visible()
    page.locator("#empty .show-skipped").click()

    shows(page, a.pk)
    expect(page.locator("#show-skipped")).to_be_hidden()
    page.keyboard.press("2")
    shows(page, b.pk)
    page.keyboard.press("2")
    expect(page.locator("#empty")).to_be_visible()
    wait_until(lambda: set(annotations_of(annotator)) == {a.pk, b.pk, c.pk})


def test_previous_and_next_go_through_the_images_labeled_on_the_page(page_for, project, annotator):
    a, b, c = (ImageFactory(project=project) for _ in range(3))
    page = page_for(annotator)
    page.goto(f"/projects/{project.pk}/label/")

    shows(page, a.pk)
    page.keyboard.press("1")
    shows(page, b.pk)
    page.keyboard.press("1")
    shows(page, c.pk)

    page.keyboard.press("ArrowLeft")
    shows(page, b.pk)
    expect(page.locator("#reviewing")).to_contain_text("2 of 2, coffee")
    expect(page.locator(".class-button.active")).to_contain_text("coffee")
    page.locator("#previous").click()
    shows(page, a.pk)
    page.keyboard.press("2")  # a relabeled "other"; forward to b
    shows(page, b.pk)
    page.keyboard.press("ArrowRight")  # back to the live image
    shows(page, c.pk)
    expect(page.locator("#reviewing")).to_be_hidden()

    wait_until(
        lambda: annotations_of(annotator) == {a.pk: ("other", False), b.pk: ("coffee", False)}
    )
    expect(page.locator("#session-count")).to_have_text("2")


def transform_of(page) -> str:
    return page.locator("#frame img").evaluate("image => image.style.transform")


def test_zoom_with_the_wheel_pan_by_dragging_and_reset_with_a_key(page_for, project, annotator):
    image = ImageFactory(project=project)
    page = page_for(annotator)
    page.goto(f"/projects/{project.pk}/label/")
    shows(page, image.pk)
    box = page.locator("#stage").bounding_box()
    middle = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)

    page.mouse.move(*middle)
    page.mouse.wheel(0, -600)
    expect(page.locator("#zoom-level")).not_to_have_text("100%")
    zoomed = transform_of(page)
    assert re.search(r"scale\((?!1\))[\d.]+\)", zoomed), zoomed

    page.mouse.down()
    page.mouse.move(middle[0] + 80, middle[1] + 40, steps=5)
    page.mouse.up()
    assert transform_of(page) != zoomed

    page.keyboard.press("0")
    expect(page.locator("#zoom-level")).to_have_text("100%")
    assert transform_of(page) == ""
