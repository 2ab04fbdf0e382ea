"""The admin account the run command creates (scripts/admin_account.py)."""

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.test import RequestFactory

from scripts.admin_account import admin_account_ensure
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


def test_a_generated_password_is_kept_in_a_file_only_its_owner_reads(tmp_path):
    password_file = tmp_path / "var" / "admin-password.txt"

    account = admin_account_ensure(password_file=password_file)

    assert account.password_file == password_file
    assert password_file.stat().st_mode & 0o777 == 0o600
    assert f"username: admin\npassword: {account.password}\n" in password_file.read_text()


def test_an_existing_file_is_rewritten_readable_by_its_owner_only(tmp_path):
    password_file = tmp_path / "admin-password.txt"
    password_file.write_text("old\n")
    password_file.chmod(0o644)

    account = admin_account_ensure(password_file=password_file)

    assert password_file.stat().st_mode & 0o777 == 0o600
    assert "old" not in password_file.read_text()
    assert account.password in password_file.read_text()


def test_a_later_run_names_the_file_while_its_password_logs_in(tmp_path):
    password_file = tmp_path / "admin-password.txt"
    admin_account_ensure(password_file=password_file)

    later = admin_account_ensure(password_file=password_file)

    assert (later.username, later.password, later.password_file) == ("admin", None, password_file)


def test_a_file_whose_password_no_longer_logs_in_is_deleted(tmp_path):
    password_file = tmp_path / "admin-password.txt"
    admin_account_ensure(password_file=password_file)
    admin = get_user_model().objects.get(username="admin")
    admin.set_password("changed-with-changepassword")
    admin.save()
    said = []

    later = admin_account_ensure(password_file=password_file, say=said.append)

    assert (later.username, later.password, later.password_file) == ("admin", None, None)
    assert not password_file.exists()
    assert said == [f"Deleted {password_file}: its password no longer logs in"]


def test_no_file_for_an_account_from_djangos_variables(tmp_path, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "alice")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-passphrase-4-alice")
    password_file = tmp_path / "admin-password.txt"

    account = admin_account_ensure(password_file=password_file)

    assert account.password_file is None
    assert not password_file.exists()
