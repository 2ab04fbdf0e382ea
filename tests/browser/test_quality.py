"""The quality page in a real browser: owners read agreement and every annotator's figures
(with the note on kappa for skewed classes); annotators see only their own."""

import pytest
from playwright.sync_api import expect

from labeling import services
from labeling.models import Role
from tests.factories import ImageFactory, MembershipFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def labeled_by_two():
    owner = UserFactory(username="olga-owner")
    project = ProjectFactory(name="Coffee", created_by=owner)
    ann, bob = (
        MembershipFactory(
            project=project, user=UserFactory(username=name), role=Role.ANNOTATOR
        ).user
        for name in ("ann", "bob")
    )
    coffee, other = project.classes.get(name="coffee"), project.classes.get(name="other")
    for index in range(6):
        image = ImageFactory(project=project)
        services.annotation_create(image=image, user=ann, label_class=coffee)
        services.annotation_create(
            image=image, user=bob, label_class=coffee if index < 4 else other
        )
    gold = ImageFactory(project=project)
    services.image_gold_set(image=gold, gold=True, label_class=other)
    services.annotation_create(image=gold, user=ann, label_class=coffee)
    return project, owner, ann


def test_owners_see_agreement_and_every_annotator(page_for, labeled_by_two):
    project, owner, ann = labeled_by_two
    bob = project.members.get(username="bob")
    services.image_skip(image=ImageFactory(project=project), user=ann)
    services.image_skip(image=ImageFactory(project=project), user=bob)
    services.image_skips_restore(project=project, user=bob)
    page = page_for(owner)
    page.goto(f"/projects/{project.pk}/")
    page.get_by_role("link", name="Quality").click()

    all_splits = page.locator(".agreement-row").first
    expect(all_splits.locator("[data-figure=images]")).to_have_text("6")
    expect(all_splits.locator("[data-figure=percent_agreement]")).to_have_text("66.7%")
    expect(all_splits.locator(".pair")).to_have_text("ann · bob: 0.00 (6)")
    expect(page.locator("#kappa-note")).to_contain_text("skewed classes")
    expect(page.locator(".annotator")).to_have_count(2)
    ann_row = page.locator(".annotator[data-username=ann]")
    expect(ann_row.locator("[data-figure=labels]")).to_have_text("7")
    expect(ann_row.locator("[data-figure=gold_accuracy]")).to_have_text("0.0% of 1")
    expect(ann_row.locator("[data-figure=skips]")).to_have_text("1 (1 still skipped)")
    bob_row = page.locator(".annotator[data-username=bob]")
    expect(bob_row.locator("[data-figure=skips]")).to_have_text("1")
    expect(page.locator("#gold-count")).to_contain_text("1 gold image")


def test_annotators_see_only_their_own_figures(page_for, labeled_by_two):
    project, _, ann = labeled_by_two
    page = page_for(ann)
    page.goto(f"/projects/{project.pk}/quality/")

    expect(page.locator("#agreement")).to_have_count(0)
    expect(page.locator(".annotator")).to_have_count(1)
    expect(page.locator(".annotator")).to_have_attribute("data-username", "ann")
