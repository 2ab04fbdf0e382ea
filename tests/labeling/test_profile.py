"""The profile page: the user's API token (whether there is one, when it was made, its last
four characters), created or replaced with the key shown once, and revoked."""

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import UserFactory


@pytest.fixture
def user(db):
    return UserFactory(username="tess")


def api_status_with(key: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get("/api/projects/").status_code


def test_a_user_without_a_token_is_offered_one(client, user):
    client.force_login(user)
    page = client.get(reverse("labeling:profile"))
    assert page.status_code == 200
    assert page.context["token"] is None
    assert b'id="token-create"' in page.content


def test_the_page_shows_only_the_last_four_characters_of_the_token(client, user):
    token = Token.objects.create(user=user)
    client.force_login(user)
    page = client.get(reverse("labeling:profile")).content.decode()
    assert f'<code id="token-tail">{token.key[-4:]}</code>' in page
    assert token.key not in page
    assert token.created.strftime("%Y-%m-%d") in page


def test_creating_a_token_shows_the_key_once(client, user):
    client.force_login(user)
    created = client.post(reverse("labeling:profile-token-replace"))
    key = Token.objects.get(user=user).key
    assert key in created.content.decode()
    assert created["Cache-Control"] == "no-store"
    assert api_status_with(key) == 200
    assert key not in client.get(reverse("labeling:profile")).content.decode()


def test_replacing_the_token_retires_the_old_key(client, user):
    old = Token.objects.create(user=user).key
    client.force_login(user)
    client.post(reverse("labeling:profile-token-replace"))
    new = Token.objects.get(user=user).key
    assert new != old
    assert (api_status_with(old), api_status_with(new)) == (401, 200)


def test_revoking_the_token_locks_its_clients_out(client, user):
    key = Token.objects.create(user=user).key
    client.force_login(user)
    response = client.post(reverse("labeling:profile-token-revoke"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("labeling:profile")
    assert "revoked" in response.content.decode()
    assert not Token.objects.filter(user=user).exists()
    assert api_status_with(key) == 401


def test_revoking_touches_no_one_elses_token(client, user):
    other = Token.objects.create(user=UserFactory())
    client.force_login(user)
    client.post(reverse("labeling:profile-token-revoke"))
    assert Token.objects.filter(pk=other.pk).exists()


def test_the_navigation_links_to_the_profile(client, user):
    client.force_login(user)
    home = client.get(reverse("labeling:home")).content.decode()
    assert f'href="{reverse("labeling:profile")}"' in home
