"""The owners' webhooks page in a real browser, against a real receiver and webhooks worker:
add a webhook, see a failed delivery in the log, send it again, see it succeed."""

import pytest
from playwright.sync_api import expect

from labeling import services
from tests.factories import ImageFactory, ProjectFactory, UserFactory
from tests.webhooks.conftest import (  # noqa: F401  (fixtures)
    receiver,
    start_worker,
    webhooks_settings,
    webhooks_worker,
)

pytestmark = [pytest.mark.browser, pytest.mark.worker]


def test_add_a_webhook_read_its_log_and_send_a_delivery_again(page_for, request):
    request.getfixturevalue("webhooks_worker")
    loopback = request.getfixturevalue("receiver")
    owner = UserFactory(username="olga-owner")
    project = ProjectFactory(name="Coffee", created_by=owner)
    loopback.answers = [500, 500, 500]  # every attempt of the first delivery fails
    page = page_for(owner)
    page.goto(f"/projects/{project.pk}/")
    page.get_by_role("link", name="Webhooks").click()
    page.fill("#id_url", loopback.url())
    page.get_by_label("image.labeled").check()
    page.get_by_role("button", name="Add webhook").click()
    expect(page.locator("#webhook-secret")).not_to_have_value("")

    image = ImageFactory(project=project)
    services.annotation_create(
        image=image, user=owner, label_class=project.classes.get(name="coffee")
    )
    loopback.wait_for("image.labeled", count=3)
    page.wait_for_timeout(500)
    page.reload()
    expect(page.locator(".delivery")).to_have_count(1)
    expect(page.locator(".delivery").first).to_have_attribute("data-status", "failed")
    expect(page.locator(".delivery").first).to_contain_text("HTTP 500")

    page.locator(".send-again").first.click()
    loopback.wait_for("image.labeled", count=4)
    page.wait_for_timeout(500)
    page.reload()
    expect(page.locator(".delivery")).to_have_count(2)
    expect(page.locator(".delivery").first).to_have_attribute("data-status", "succeeded")
