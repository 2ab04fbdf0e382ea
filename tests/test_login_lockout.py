"""Brute force: failed logins are counted per username and client address across the three ways
in with a password (the login page, the admin's login page, the API token endpoint); at the
limit that pair is refused with a 429 that says why and for how long, even with the right
password, until the cool-off has passed. See labelplatform.login_lockout."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client, RequestFactory
from django.utils import timezone

from labelplatform.login_lockout import client_address
from tests.factories import UserFactory

LIMIT = 5  # AXES_FAILURE_LIMIT's default (LOGIN_FAILURE_LIMIT)
HERE, ELSEWHERE = "203.0.113.10", "198.51.100.20"
DOORS = ["login page", "admin login", "token endpoint"]


@pytest.fixture
def olivia(db):
    return UserFactory(username="olivia", is_staff=True)  # staff, so the admin lets her in


def attempt(door: str, username: str, password: str, *, address: str = HERE):
    """One login through `door`; returns (logged_in, response)."""
    client = Client(REMOTE_ADDR=address)
    credentials = {"username": username, "password": password}
    if door == "login page":
        response = client.post("/accounts/login/", credentials)
        return response.status_code == 302, response
    if door == "admin login":
        response = client.post("/admin/login/?next=/admin/", credentials)
        return response.status_code == 302, response
    response = client.post("/api/auth/token/", credentials, content_type="application/json")
    return response.status_code == 200, response


def fail(door: str, username: str, times: int, *, address: str = HERE) -> None:
    for _ in range(times):
        logged_in, response = attempt(door, username, "wrong", address=address)
        assert not logged_in, response


def assert_locked_out(response) -> None:
    assert response.status_code == 429, response
    assert int(response["Retry-After"]) == 15 * 60
    if response["Content-Type"].startswith("application/json"):
        text = response.json()["detail"]
    else:
        text = response.content.decode()
    assert "Too many failed logins" in text
    assert "try again in 15 minutes" in text


@pytest.mark.parametrize("door", DOORS)
def test_failures_below_the_limit_are_ordinary_failures(olivia, door):
    for _ in range(LIMIT - 1):
        logged_in, response = attempt(door, "olivia", "wrong")
        assert not logged_in
        assert response.status_code in (200, 400)  # the form again, or the API's 400


@pytest.mark.parametrize("door", DOORS)
def test_at_the_limit_even_the_right_password_is_refused_with_a_429(olivia, door):
    fail(door, "olivia", LIMIT - 1)

    logged_in, response = attempt(door, "olivia", "wrong")
    assert not logged_in
    assert_locked_out(response)

    logged_in, response = attempt(door, "olivia", "password")
    assert not logged_in
    assert_locked_out(response)


@pytest.mark.parametrize("door", DOORS)
def test_the_lockout_ends_after_the_cool_off(olivia, door):
    fail(door, "olivia", LIMIT)
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))

    logged_in, _ = attempt(door, "olivia", "password")
    assert logged_in


@pytest.mark.parametrize("door", DOORS)
def test_a_success_before_the_limit_clears_the_count(olivia, door):
    fail(door, "olivia", LIMIT - 1)
    logged_in, _ = attempt(door, "olivia", "password")
    assert logged_in

    fail(door, "olivia", LIMIT - 1)
    logged_in, _ = attempt(door, "olivia", "password")
    assert logged_in


@pytest.mark.parametrize("door", DOORS)
def test_another_user_from_the_same_address_logs_in(olivia, door):
    UserFactory(username="victor", is_staff=True)
    fail(door, "olivia", LIMIT)

    logged_in, _ = attempt(door, "victor", "password")
    assert logged_in


@pytest.mark.parametrize("door", DOORS)
def test_the_same_user_from_another_address_logs_in(olivia, door):
    fail(door, "olivia", LIMIT)

    logged_in, _ = attempt(door, "olivia", "password", address=ELSEWHERE)
    assert logged_in


def test_failures_count_across_the_ways_in(olivia):
    fail("login page", "olivia", 2)
    fail("admin login", "olivia", 2)
    fail("token endpoint", "olivia", 1)

    for door in DOORS:
        logged_in, response = attempt(door, "olivia", "password")
        assert not logged_in
        assert_locked_out(response)


def test_the_limit_and_the_cool_off_come_from_the_settings(olivia, settings):
    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = timedelta(minutes=1)
    fail("token endpoint", "olivia", 1)

    _, response = attempt("token endpoint", "olivia", "wrong")
    assert response.status_code == 429
    assert response["Retry-After"] == "60"
    assert "try again in 1 minute." in response.json()["detail"]


def test_the_token_endpoint_answers_a_lockout_in_json(olivia):
    fail("token endpoint", "olivia", LIMIT)

    _, response = attempt("token endpoint", "olivia", "password")
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == {"detail"}


def test_the_login_pages_answer_a_lockout_with_a_page(olivia):
    fail("login page", "olivia", LIMIT)

    _, response = attempt("login page", "olivia", "password")
    assert response["Content-Type"].startswith("text/html")
    assert '<h1 class="h4 mb-3">Too many failed logins</h1>' in response.content.decode()


# The client's address behind proxies (TRUSTED_PROXY_COUNT).


def request_from(remote_addr: str, forwarded_for: str | None = None):
    headers = {"REMOTE_ADDR": remote_addr}
    if forwarded_for is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return RequestFactory().post("/accounts/login/", **headers)


def test_without_trusted_proxies_the_connection_is_the_client(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_address(request_from("192.0.2.1", "203.0.113.7")) == "192.0.2.1"


def test_behind_one_proxy_the_address_it_appended_is_the_client(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    # The first entry is the client's own claim: a new one on every try would dodge the count.
    request = request_from("192.0.2.1", "198.51.100.99, 203.0.113.7")
    assert client_address(request) == "203.0.113.7"


def test_behind_two_proxies_the_outer_ones_entry_is_the_client(settings):
    settings.TRUSTED_PROXY_COUNT = 2
    request = request_from("192.0.2.1", "198.51.100.99, 203.0.113.7, 192.0.2.50")
    assert client_address(request) == "203.0.113.7"


def test_a_request_that_skipped_the_proxy_is_its_connection(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_address(request_from("192.0.2.1")) == "192.0.2.1"


def test_staff_see_the_locked_out_pairs_in_the_admin_and_can_lift_a_lockout(olivia):
    fail("login page", "olivia", LIMIT)
    admin = Client()
    admin.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))

    listing = admin.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200
    assert "olivia" in listing.content.decode()

    locked = AccessAttempt.objects.get(username="olivia")
    deleted = admin.post(f"/admin/axes/accessattempt/{locked.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302
    logged_in, _ = attempt("login page", "olivia", "password")
    assert logged_in
