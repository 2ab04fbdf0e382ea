"""The admin account of the run command (`make run`): created on the first run, found again later.

When no superuser exists, the run command creates one: from Django's own
DJANGO_SUPERUSER_USERNAME / _PASSWORD / _EMAIL when set, otherwise `admin` with a generated
password. The generated password is printed, and kept in a file readable by its owner only
(var/admin-password.txt for `make run`), so a user who lost the terminal's scroll can still log
in; later runs name that file for as long as its password still logs in.

Runs in the supervisor's process before any child starts, and closes its database connections
when done so none is inherited.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class AdminAccount:
    username: str
    password: str | None  # only when this run generated it
    note: str
    password_file: Path | None = None  # holds a password that logs in as this account


def path_shown(path: Path) -> str:
    """A path as the user would type it in the checkout."""
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def admin_password_file_write(path: Path, *, username: str, password: str) -> None:
    """Write the generated credentials to `path`, readable and writable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        os.fchmod(file.fileno(), 0o600)  # O_CREAT's mode does not apply to an existing file
        file.write(
            "# The admin account `make run` created. Change its password with\n"
            f"#   .venv/bin/python manage.py changepassword {username}\n"
            f"username: {username}\n"
            f"password: {password}\n"
        )


def admin_password_file_check(path: Path, *, say: Callable[[str], None]) -> str | None:
    """The username in `path` when its password still logs in as a superuser, else None.

    A file whose password no longer works (changed with `changepassword`, another database) is
    deleted: it would only mislead.
    """
    from django.contrib.auth import get_user_model

    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    saved = dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)
    user_model = get_user_model()
    user = user_model.objects.filter(
        is_superuser=True, **{user_model.USERNAME_FIELD: saved.get("username", "")}
    ).first()
    if user is not None and user.check_password(saved.get("password", "")):
        return user.get_username()
    path.unlink(missing_ok=True)
    say(f"Deleted {path_shown(path)}: its password no longer logs in")
    return None


def admin_account_ensure(
    *, password_file: Path | None = None, say: Callable[[str], None] = print
) -> AdminAccount | None:
    """Create the admin account when no superuser exists, and say how to log in.

    Writes: a superuser when there is none; a generated password also goes to `password_file`
    (mode 0600) when one is given. Returns None when no account can be named (a plain user
    called `admin` is in the way; `say` explains).
    """
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connections

    user_model = get_user_model()
    try:
        superuser = user_model.objects.filter(is_superuser=True).order_by("pk").first()
        if superuser is not None:
            saved_username = (
                admin_password_file_check(password_file, say=say) if password_file else None
            )
            if saved_username:
                return AdminAccount(
                    username=saved_username,
                    password=None,
                    note="existing account",
                    password_file=password_file,
                )
            return AdminAccount(
                username=superuser.get_username(),
                password=None,
                note="existing account; `manage.py changepassword` resets its password",
            )
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME")
        if username:
            # Django's createsuperuser reads DJANGO_SUPERUSER_* itself; an empty email is fine.
            call_command(
                "createsuperuser",
                interactive=False,
                verbosity=0,
                email=os.environ.get("DJANGO_SUPERUSER_EMAIL", ""),
            )
            if "DJANGO_SUPERUSER_PASSWORD" in os.environ:
                note = "created; password from DJANGO_SUPERUSER_PASSWORD"
            else:
                note = "created WITHOUT a usable password (DJANGO_SUPERUSER_PASSWORD is not set)"
            return AdminAccount(username=username, password=None, note=note)
        if user_model.objects.filter(username="admin").exists():
            say(
                "A user `admin` exists but is not a superuser: no admin account was created. "
                "Create one with `.venv/bin/python manage.py createsuperuser`."
            )
            return None
        password = secrets.token_urlsafe(12)
        user_model.objects.create_superuser(username="admin", email="", password=password)
        if password_file is None:
            note = "created now; this password is printed only this once"
        else:
            admin_password_file_write(password_file, username="admin", password=password)
            note = "created now"
        return AdminAccount(
            username="admin", password=password, note=note, password_file=password_file
        )
    finally:
        connections.close_all()
