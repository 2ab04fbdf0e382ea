"""A new user's way through the platform in a real browser: log in, create a project,
upload photos, read the dashboard; and the grid's selection."""

import base64
import re

import pytest
from playwright.sync_api import expect

from labeling.models import Annotation, Image, LabelStatus, Membership, Project, Role
from labeling.services import annotation_create, membership_set
from tests.browser.support import interleaved, wait_until
from tests.factories import ProjectFactory, UserFactory
from tests.support.coffee_or_not import photos_store

pytestmark = pytest.mark.browser


def test_log_in_and_create_a_project(page_for, live_server):
    user = UserFactory(username="nora-new")
    page = page_for(None)
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    page.fill("#id_username", "nora-new")
    page.fill("#id_password", "password")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Your projects")
    expect(page.get_by_text("No projects yet")).to_be_visible()

    page.get_by_role("link", name="New project").first.click()
    page.fill("#id_name", "Coffee")
    page.fill("#id_classes-0-name", "coffee")
    page.fill("#id_classes-1-name", "other")
    page.click("#add-class")
    page.fill("#id_classes-2-name", "cat")
    page.fill("#id_train_percent", "70")
    expect(page.locator("#ratio-sum")).to_have_text("110% of 100%")
    page.fill("#id_validation_percent", "10")
    expect(page.locator("#ratio-sum")).to_have_text("100% of 100%")
    page.get_by_role("button", name="Create project").click()

    expect(page).to_have_url(re.compile(r"/projects/\d+/upload/$"))
    project = Project.objects.get(name="Coffee")
    classes = list(project.classes.values_list("name", "key"))
    assert classes == [("coffee", "1"), ("other", "2"), ("cat", "3")]
    assert (project.train_percent, project.validation_percent, project.test_percent) == (70, 10, 20)
    assert Membership.objects.get(project=project).user == user
    assert Membership.objects.get(project=project).role == Role.OWNER


def drop_files(page, selector: str, files: list[tuple[str, bytes, str]]) -> None:
    """Drops files on an element the way a user dragging them from the desktop does."""
    payload = [
        {"name": name, "type": mime, "data": base64.b64encode(content).decode()}
        for name, content, mime in files
    ]
    transfer = page.evaluate_handle(
        """(files) => {
            const transfer = new DataTransfer();
            for (const file of files) {
                const bytes = Uint8Array.from(atob(file.data), (c) => c.charCodeAt(0));
                transfer.items.add(new File([bytes], file.name, { type: file.type }));
            }
            return transfer;
        }""",
        payload,
    )
    page.dispatch_event(selector, "dragenter", {"dataTransfer": transfer})
    page.dispatch_event(selector, "drop", {"dataTransfer": transfer})


def test_upload_by_drag_and_drop_and_the_file_picker(page_for, owner, photos, screenshot):
    project = ProjectFactory(name="Coffee or not", created_by=owner)
    paths = interleaved(photos, 12)
    page = page_for(owner)
    page.goto(f"/projects/{project.pk}/upload/")

    dropped = [(path.name, path.read_bytes(), "image/jpeg") for path in paths[:9]]
    dropped.append(("holiday-notes.jpg", b"Day 1: coffee. Day 2: more coffee.\n", "image/jpeg"))
    drop_files(page, "#dropzone", dropped)
    expect(page.locator("#upload-form")).to_have_attribute("data-state", "done")
    expect(page.locator("#count-created")).to_have_text("9")
    expect(page.locator("#count-rejected")).to_have_text("1")

    # The picker, with one photo that is already in the project.
    page.set_input_files("#file-input", [str(paths[0]), *map(str, paths[9:12])])
    expect(page.locator("#count-created")).to_have_text("12")
    expect(page.locator("#upload-form")).to_have_attribute("data-state", "done")
    expect(page.locator("#count-duplicates")).to_have_text("1")

    assert Image.objects.filter(project=project).count() == 12
    original = Image.objects.get(project=project, original_name=paths[0].name)
    duplicate_row = page.locator("tr.verdict-duplicate")
    expect(duplicate_row).to_contain_text(paths[0].name)
    expect(duplicate_row.get_by_role("link")).to_have_attribute("href", f"/images/{original.pk}/")
    rejected_row = page.locator("tr.verdict-rejected")
    expect(rejected_row).to_contain_text("holiday-notes.jpg")
    expect(page.locator("tr.verdict-created")).to_have_count(12)
    expect(page.locator("#progress-bar")).to_have_attribute("style", re.compile("width: 100%"))
    screenshot(page, "upload")


def test_upload_with_a_split_and_a_label(page_for, owner, photos):
    project = ProjectFactory(created_by=owner)
    page = page_for(owner)
    page.goto(f"/projects/{project.pk}/upload/")
    page.select_option("#id_split", "validation")
    page.select_option("#id_label", label="coffee")
    page.set_input_files("#file-input", [str(path) for path in photos["coffee"][:3]])
    expect(page.locator("#upload-form")).to_have_attribute("data-state", "done")
    expect(page.locator("#count-created")).to_have_text("3")
    images = Image.objects.filter(project=project)
    assert {(image.split, image.label.name) for image in images} == {("validation", "coffee")}
    assert Annotation.objects.filter(user=owner).count() == 3


@pytest.fixture
def labeled_project(project, owner, annotator, photos):
    """The coffee project, 36 photos, some labeled by two people; and a small second project
    (the `project` fixture the annotator belongs to) so the home page lists two."""
    pilot = project
    pilot.name, pilot.description = "Cats (pilot)", "A first try with a handful of cat photos."
    pilot.save()
    photos_store(project=pilot, user=owner, paths=photos["other"][100:106])
    for image in Image.objects.filter(project=pilot)[:2]:
        annotation_create(image=image, user=owner, label_class=pilot.classes.get(name="other"))

    coffee_project = ProjectFactory(
        name="Coffee or not",
        created_by=owner,
        description="Is there a cup of coffee in the photo? Label the coffee-or-not photos.",
    )
    coffee_project.classes.filter(name="coffee").update(color="#8b5a2b")
    coffee_project.classes.filter(name="other").update(color="#0d6efd")
    viewer = UserFactory(username="victor-viewer")
    membership_set(project=coffee_project, user=annotator, role=Role.ANNOTATOR)
    membership_set(project=coffee_project, user=viewer, role=Role.VIEWER)
    photos_store(project=coffee_project, user=owner, paths=interleaved(photos, 36))
    coffee, other = coffee_project.classes.all()
    first_twenty = list(Image.objects.filter(project=coffee_project).order_by("pk")[:20])
    for index, image in enumerate(first_twenty):
        right, wrong = (
            (coffee, other) if image.original_name.startswith("mscup") else (other, coffee)
        )
        annotation_create(image=image, user=annotator if index < 14 else owner, label_class=right)
        if index < 2:
            # The owner disagrees with two of the annotator's labels: a tie, so a conflict.
            annotation_create(image=image, user=owner, label_class=wrong)
    return coffee_project


def test_the_dashboard_counts(page_for, labeled_project, owner, screenshot):
    page = page_for(owner)
    page.goto(f"/projects/{labeled_project.pk}/")
    images = Image.objects.filter(project=labeled_project)
    for split in ("train", "validation", "test"):
        in_split = images.filter(split=split)
        row = page.locator(f'#split-table tr[data-split="{split}"] td')
        expected = [
            in_split.filter(label__name="coffee").count(),
            in_split.filter(label__name="other").count(),
            in_split.filter(label_status=LabelStatus.UNLABELED).count(),
            in_split.filter(label_status=LabelStatus.CONFLICT).count(),
            in_split.count(),
        ]
        expect(row).to_have_text([str(number) for number in expected])
    expect(page.locator('[data-count="labeled"]')).to_have_text("18")
    expect(page.locator('[data-count="conflict"]')).to_have_text("2")
    expect(page.locator("#conflicts .conflict")).to_have_count(2)
    expect(page.locator('[data-member="ann-annotator"] [data-annotations]')).to_have_text("14")
    expect(page.locator('[data-member="olivia-owner"] [data-annotations]')).to_have_text("8")
    expect(page.locator("#activity .activity-annotation").first).to_contain_text("labeled")
    screenshot(page, "dashboard", full_page=True)
    with page.expect_download() as download:
        page.get_by_role("link", name="Labels (CSV)").click()
    assert download.value.suggested_filename.endswith("-labels.csv")
    assert len(download.value.path().read_text().splitlines()) == 1 + 36

    # The owner settles a conflict from the dashboard.
    conflict = page.locator("#conflicts .conflict").first
    settled = int(conflict.get_attribute("data-image"))
    conflict.get_by_role("button", name="coffee").click()
    expect(page.locator('[data-count="conflict"]')).to_have_text("1")
    image = Image.objects.get(pk=settled)
    assert (image.label.name, image.label_reviewed) == ("coffee", True)

    page.goto("/")
    card = page.locator(".project-card", has_text="Coffee or not")
    expect(card.locator(".project-labeled")).to_have_text("19")  # 18 + the settled conflict
    expect(card.locator(".project-total")).to_have_text("36")
    screenshot(page, "home")


def test_grid_select_with_click_and_shift_click_then_apply_a_class(
    page_for, labeled_project, annotator, screenshot
):
    page = page_for(annotator)
    page.goto(f"/projects/{labeled_project.pk}/grid/?mine=unlabeled")
    tiles = page.locator("#tiles .tile")
    expect(tiles).to_have_count(36 - 14)
    tiles.nth(0).click()
    tiles.nth(3).click(modifiers=["Shift"])
    tiles.nth(6).click()
    expect(page.locator("#selected-count")).to_have_text("5")
    chosen = [int(tiles.nth(i).get_attribute("data-image")) for i in (0, 1, 2, 3, 6)]
    screenshot(page, "grid")

    page.get_by_role("button", name="other").click()
    expect(page.locator(".alert-success")).to_contain_text("Labeled 5 images as other.")
    mine = Annotation.objects.filter(user=annotator, image_id__in=chosen)
    assert sorted(mine.values_list("image_id", flat=True)) == sorted(chosen)
    assert set(mine.values_list("label_class__name", flat=True)) == {"other"}
    # The filter survives the round trip: the five are no longer "not labeled by me".
    expect(page).to_have_url(re.compile(r"\?mine=unlabeled$"))
    expect(tiles).to_have_count(36 - 14 - 5)


def test_grid_select_the_whole_page_and_apply_with_a_key(page_for, labeled_project, annotator):
    page = page_for(annotator)
    page.goto(f"/projects/{labeled_project.pk}/grid/?mine=unlabeled")
    expect(page.locator(".apply-class").first).to_be_disabled()
    page.click("#select-all")
    expect(page.locator("#selected-count")).to_have_text(str(36 - 14))
    page.keyboard.press("1")
    expect(page.locator(".alert-success")).to_contain_text(f"Labeled {36 - 14} images as coffee.")
    wait_until(lambda: Annotation.objects.filter(user=annotator).count() == 36)
