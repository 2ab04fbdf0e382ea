"""An owner changes a project's settings in the app, in a real browser: rename, recolour,
add and remove classes (one in use cannot be removed), and delete the project."""

import re

import pytest
from playwright.sync_api import expect

from labeling.models import Project
from labeling.services import annotation_create
from tests.factories import ImageFactory, ProjectFactory

pytestmark = pytest.mark.browser


def test_an_owner_edits_the_settings_and_classes(page_for, owner):
    project = ProjectFactory(
        name="Coffee or not", created_by=owner, classes=["coffee", "other", "cat"]
    )
    annotation_create(
        image=ImageFactory(project=project),
        user=owner,
        label_class=project.classes.get(name="other"),
    )
    page = page_for(owner)
    page.goto(f"/projects/{project.pk}/")
    page.get_by_role("link", name="Settings").click()
    expect(page).to_have_url(re.compile(rf"/projects/{project.pk}/settings/$"))

    page.fill("#id_name", "Coffee or tea")
    page.fill("#id_classes-0-name", "espresso")
    page.locator("#id_classes-0-color").fill("#00aa55")
    # "other" labels an image: its row says so and it cannot be removed.
    other_row = page.locator(".class-row").nth(1)
    expect(other_row).to_contain_text("Used by 1 label")
    expect(other_row.get_by_role("button", name="Remove this class")).to_be_disabled()
    page.locator(".class-row").nth(2).get_by_role("button", name="Remove this class").click()
    expect(page.locator(".class-row").nth(2)).to_have_class(re.compile("opacity-50"))
    page.click("#add-class")
    page.fill("#id_classes-3-name", "tea")
    page.fill("#id_train_percent", "70")
    page.fill("#id_validation_percent", "10")
    expect(page.locator("#ratio-sum")).to_have_text("100% of 100%")
    page.get_by_role("button", name="Save settings").click()

    expect(page.get_by_text("Settings saved.")).to_be_visible()
    project.refresh_from_db()
    assert project.name == "Coffee or tea"
    assert project.split_ratios == {"train": 70, "validation": 10, "test": 20}
    assert list(project.classes.values_list("name", "key", "color")) == [
        ("espresso", "1", "#00aa55"),
        ("other", "2", "#0d6efd"),
        ("tea", "3", "#fd7e14"),
    ]


def test_an_owner_deletes_a_project_after_typing_its_name_and_confirming(page_for, owner):
    project = ProjectFactory(name="Old photos", created_by=owner)
    page = page_for(owner)
    page.goto(f"/projects/{project.pk}/settings/")
    delete = page.get_by_role("button", name="Delete project")
    expect(delete).to_be_disabled()
    page.get_by_label("Type the project's name to confirm").fill("Old photos")
    expect(delete).to_be_enabled()

    page.once("dialog", lambda dialog: dialog.dismiss())
    delete.click()
    expect(page).to_have_url(re.compile(rf"/projects/{project.pk}/settings/$"))
    assert Project.objects.filter(pk=project.pk).exists()

    page.once("dialog", lambda dialog: dialog.accept())
    delete.click()
    expect(
        page.get_by_text("Project “Old photos” and everything in it were deleted.")
    ).to_be_visible()
    expect(page).to_have_url(re.compile(r"/$"))
    assert not Project.objects.filter(pk=project.pk).exists()


def test_annotators_see_no_settings_link(page_for, project, annotator):
    page = page_for(annotator)
    page.goto(f"/projects/{project.pk}/")
    expect(page.locator("#project-actions")).to_be_visible()
    expect(page.get_by_role("link", name="Settings")).to_have_count(0)
