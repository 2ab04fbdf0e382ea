"""Stored XSS in a real browser: the pages that show names full of <script> and
<img onerror> payloads (tests/hostile.py) run none of them. Every payload calls alert(), so
a single dialog anywhere fails the test; the page_for fixture also fails it on any JavaScript
error (a name breaking the labeling page's JSON, say). The server-side checks of each page
are tests/test_stored_xss.py."""

import pytest
from playwright.sync_api import expect

from tests.hostile import CLASS_A, CLASS_B, IMAGE_NAME, IMG, PROJECT_NAME, SCRIPT, Hostile
from tests.support.upload_corpus import png

pytestmark = pytest.mark.browser

KEPT = "kept <img src=x onerror=alert(1)>.png"
BAD = "bad <img src=x onerror=alert(2)>.png"


def record_dialogs(page) -> list[str]:
    dialogs: list[str] = []

    def on_dialog(dialog) -> None:
        dialogs.append(f"{dialog.type}: {dialog.message} on {page.url}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return dialogs


def test_the_dialog_watch_sees_a_payload_that_runs(page_for):
    """The check below would see an injection: a payload that does run is caught."""
    page = page_for(None)
    dialogs = record_dialogs(page)
    page.set_content(f"<p>{IMG}</p>")
    page.wait_for_function("document.images.length === 1 && document.images[0].complete")
    page.wait_for_timeout(200)
    assert len(dialogs) == 1


def test_no_page_runs_the_markup_in_names(page_for, live_server):
    world = Hostile()
    project = world.project
    page = page_for(world.owner)
    dialogs = record_dialogs(page)

    page.goto("/")
    expect(page.get_by_text(PROJECT_NAME, exact=True).first).to_be_visible()

    page.goto(f"/projects/{project.pk}/")
    expect(page.locator("h1")).to_contain_text(PROJECT_NAME)
    for path in ("gallery", "grid", "models", "jobs"):
        page.goto(f"/projects/{project.pk}/{path}/")
        expect(page.locator("h1")).to_contain_text(PROJECT_NAME)
    # The Models page drew its Chart.js charts from the names (json_script).
    page.goto(f"/projects/{project.pk}/models/")
    expect(page.locator("#confusion-chart")).to_be_visible()
    assert page.evaluate("Object.keys(Chart.instances).length") >= 1
    assert page.evaluate("Object.values(Chart.instances)[0].data.labels") == [
        f"true {CLASS_A}",
        f"true {CLASS_B}",
    ]
    # The Jobs page refreshes its list through htmx: let it swap a few times.
    page.goto(f"/projects/{project.pk}/jobs/")
    page.wait_for_timeout(2500)

    page.goto(f"/projects/{project.pk}/label/")
    expect(page.locator("#image-name")).to_have_text(f"new {IMG}.png")
    expect(page.locator(".class-button").first).to_contain_text(CLASS_A)

    page.goto(f"/images/{world.image.pk}/")
    expect(page.get_by_text(IMAGE_NAME).first).to_be_visible()

    # The upload page lists each file's verdict with the file's name (upload.js). (Chromium
    # sends a quote in a file name as %22, so these payloads do without one.)
    page.goto(f"/projects/{project.pk}/upload/")
    page.set_input_files(
        "#file-input",
        [
            {"name": KEPT, "mimeType": "image/png", "buffer": png(seed=41)},
            {"name": BAD, "mimeType": "image/png", "buffer": b"not an image"},
        ],
    )
    expect(page.locator("#upload-form")).to_have_attribute("data-state", "done")
    expect(page.locator("#verdicts")).to_contain_text(KEPT)
    expect(page.locator("#verdicts")).to_contain_text(BAD)

    # The image itself, opened on its own under the media CSP (sandbox), still shows.
    page.goto(f"/media/images/{world.image.pk}/")
    assert page.evaluate("document.images[0].naturalWidth") > 0

    for path in (
        "/admin/",
        "/admin/labeling/project/",
        f"/admin/labeling/project/{project.pk}/change/",
        "/admin/labeling/image/",
        f"/admin/labeling/image/{world.image.pk}/change/",
        "/admin/labeling/labelclass/",
        f"/admin/classifier/modelversion/{world.version.pk}/change/",
        "/admin/classifier/trainingrun/",
        "/admin/classifier/prediction/",
    ):
        page.goto(path)
        expect(page.locator("#content")).to_be_visible()

    assert dialogs == [], dialogs
    assert SCRIPT not in page.content()
