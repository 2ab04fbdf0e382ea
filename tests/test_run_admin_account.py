"""The admin account the run command creates (scripts/run.py admin_account_ensure)."""

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.test import RequestFactory

from scripts.run import admin_account_ensure
from tests.factories import UserFactory


def login_request():
    # The login lockout (django-axes) counts per client, so authenticate() needs the request.
    return RequestFactory().post("/accounts/login/")


# admin_account_ensure closes the database connections when done, as the supervisor must before
# it forks its children; a transaction-wrapped test would lose its connection.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def no_superuser_variables(monkeypatch):
    for name in ("USERNAME", "PASSWORD", "EMAIL"):
        monkeypatch.delenv(f"DJANGO_SUPERUSER_{name}", raising=False)


def test_without_a_superuser_it_creates_admin_with_a_generated_password():
    account = admin_account_ensure()

    assert account.username == "admin"
    assert len(account.password) >= 16
    user = authenticate(login_request(), username="admin", password=account.password)
    assert user is not None and user.is_superuser and user.is_staff


def test_with_a_superuser_it_creates_nothing_and_shows_no_password():
    UserFactory(username="root-of-it-all", is_superuser=True, is_staff=True)

    account = admin_account_ensure()

    assert (account.username, account.password) == ("root-of-it-all", None)
    assert get_user_model().objects.count() == 1


def test_a_second_run_does_not_print_the_password_again():
    first = admin_account_ensure()
    second = admin_account_ensure()

    assert first.password is not None
    assert (second.username, second.password) == ("admin", None)


def test_djangos_superuser_variables_name_the_account(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "alice")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-passphrase-4-alice")
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "alice@example.com")

    account = admin_account_ensure()

    assert (account.username, account.password) == ("alice", None)
    user = authenticate(login_request(), username="alice", password="a-long-passphrase-4-alice")
    assert user is not None and user.is_superuser and user.email == "alice@example.com"
    assert not get_user_model().objects.filter(username="admin").exists()


def test_a_plain_user_called_admin_is_not_promoted():
    UserFactory(username="admin")

    assert admin_account_ensure() is None
    assert not get_user_model().objects.filter(is_superuser=True).exists()
