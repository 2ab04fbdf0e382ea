"""The profile page in a real browser: reach it from the navigation, create an API token (its
key shown once, and it works on the API), see only its tail afterwards, replace it and revoke
it, each after a confirmation."""

import pytest
from playwright.sync_api import expect
from rest_framework.authtoken.models import Token

from tests.factories import UserFactory

pytestmark = pytest.mark.browser


def test_create_see_replace_and_revoke_an_api_token(page_for, live_server):
    user = UserFactory(username="tess-token")
    page = page_for(user)
    page.goto("/")
    page.locator("#nav-profile").click()
    expect(page.locator("#token-state")).to_contain_text("You have no API token")

    page.get_by_role("button", name="Create token").click()
    key = page.locator("#new-token-key").input_value()
    assert key == Token.objects.get(user=user).key
    answer = page.request.get(
        f"{live_server.url}/api/projects/", headers={"Authorization": f"Token {key}"}
    )
    assert answer.status == 200

    page.goto("/profile/")
    expect(page.locator("#new-token")).to_have_count(0)
    expect(page.locator("#token-tail")).to_have_text(key[-4:])
    assert key not in page.content()

    questions: list[str] = []

    def answer_yes(dialog):
        questions.append(dialog.message)
        dialog.accept()

    page.on("dialog", answer_yes)
    page.get_by_role("button", name="Replace token").click()
    replaced = page.locator("#new-token-key").input_value()
    assert replaced != key
    expect(page.locator("#token-tail")).to_have_text(replaced[-4:])

    page.get_by_role("button", name="Revoke token").click()
    expect(page.locator("#token-state")).to_contain_text("You have no API token")
    assert [question.split("?")[0] for question in questions] == [
        "Replace your API token",
        "Revoke your API token",
    ]
    answer = page.request.get(
        f"{live_server.url}/api/projects/", headers={"Authorization": f"Token {replaced}"}
    )
    assert answer.status == 401


def test_a_declined_confirmation_keeps_the_token(page_for):
    user = UserFactory(username="tess-keeps")
    token = Token.objects.create(user=user)
    page = page_for(user)
    page.goto("/profile/")
    dismissed: list[str] = []
    page.once("dialog", lambda dialog: (dismissed.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Revoke token").click()
    page.wait_for_timeout(300)  # time for a submission, were one made
    assert dismissed and dismissed[0].startswith("Revoke your API token?")
    expect(page.locator("#token-tail")).to_have_text(token.key[-4:])
    assert Token.objects.filter(pk=token.pk).exists()
