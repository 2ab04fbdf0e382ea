"""Messages that tell the truth, in a real browser: a project without images asks for
uploads instead of saying every image is labeled; upload rows say which zip a file came
from; a wrong password keeps the username."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_projects import drop_files
from tests.factories import ProjectFactory, UserFactory, png_bytes
from tests.support.upload_corpus import zip_archive

pytestmark = pytest.mark.browser


def test_labeling_a_project_without_images_asks_for_uploads(page_for, owner):
    project = ProjectFactory(name="Empty", created_by=owner)
    page = page_for(owner)
    page.goto(f"/projects/{project.pk}/label/")
    empty = page.locator("#empty")
    expect(empty).to_be_visible()
    expect(empty).to_contain_text("No images yet")
    expect(empty).to_contain_text("Upload images to start labeling.")
    expect(empty).not_to_contain_text("Every image has the labels it needs")


def test_upload_rows_say_which_zip_a_file_came_from(page_for, owner):
    project = ProjectFactory(name="Zips", created_by=owner)
    members = {"coffee/a.png": png_bytes(seed=1), "notes.txt": b"hi"}
    members["coffee/b.png"] = png_bytes(seed=2)
    archive = zip_archive(members)
    page = page_for(owner)
    page.goto(f"/projects/{project.pk}/upload/")
    drop_files(
        page,
        "#dropzone",
        [("holiday.zip", archive, "application/zip"), ("c.png", png_bytes(seed=3), "image/png")],
    )
    expect(page.locator("#upload-form")).to_have_attribute("data-state", "done")
    rows = page.locator("tr.verdict")
    expect(rows).to_have_count(4)
    for name in ("coffee/a.png", "coffee/b.png", "notes.txt"):
        expect(rows.filter(has_text=name).locator(".verdict-archive")).to_have_text(
            "from holiday.zip"
        )
    expect(rows.filter(has_text="c.png").locator(".verdict-archive")).to_have_count(0)


def test_a_wrong_password_keeps_the_username(page_for):
    UserFactory(username="nora-new")
    page = page_for(None)
    page.goto("/accounts/login/")
    page.fill("#id_username", "nora-new")
    page.fill("#id_password", "not her password")
    page.click("button[type=submit]")
    expect(page.get_by_text("Your username and password didn't match.")).to_be_visible()
    expect(page.locator("#id_username")).to_have_value("nora-new")
    expect(page.locator("#id_password")).to_be_focused()
    page.fill("#id_password", "password")
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/$"))
