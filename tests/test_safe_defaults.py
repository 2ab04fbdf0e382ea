"""`make run`'s defaults are safe on a shared machine: the server listens on loopback unless
HOST says otherwise, debug pages are off unless asked for (and always off for a server others
reach), and the secret key is generated once per install, readable by its owner only."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from scripts import run
from scripts.run_banner import banner
from tests.support import REPOSITORY
from tests.support.processes import die_with_parent, free_port, process_stop, wait_until

# An address on someone's LAN, as a teammate's browser sends it in the Host header.
LAN_HOST = "192.168.1.50"


def local_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a fresh `make run`: local settings, no DEBUG, no SECRET_KEY."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS"} and not k.startswith("DJANGO_")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="labelplatform.settings.local",
        SECRET_KEY_FILE=str(tmp_path / "var" / "secret-key"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        MEDIA_ROOT=str(tmp_path / "media"),
        **extra,
    )
    return env


def local_settings(env: dict[str, str]) -> list[str]:
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.DEBUG); print(settings.SECRET_KEY)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPOSITORY, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_the_local_settings_have_debug_off_and_a_key_generated_once(tmp_path):
    env = local_env(tmp_path)

    debug, key = local_settings(env)
    _, key_again = local_settings(env)

    assert debug == "False"
    key_file = tmp_path / "var" / "secret-key"
    assert key == key_again == key_file.read_text().strip()
    assert len(key) >= 50
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key not in (REPOSITORY / "labelplatform" / "settings" / "base.py").read_text()


def test_debug_is_on_only_when_asked_for(tmp_path):
    debug, _ = local_settings(local_env(tmp_path, DEBUG="true"))
    assert debug == "True"


@pytest.fixture
def web_as_run_starts_it(tmp_path):
    """The run command's web server (gunicorn, its exact command) on the default host."""
    port = free_port()
    (web,) = [service for service in run.services(port=port) if service.name == "web"]
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=REPOSITORY, env=local_env(tmp_path), check=True,
    )  # fmt: skip
    process = subprocess.Popen(
        web.command, cwd=REPOSITORY, env=local_env(tmp_path), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, preexec_fn=die_with_parent,
    )  # fmt: skip

    def answers() -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{port}/accounts/login/", timeout=5).ok
        except requests.RequestException:
            return False

    wait_until(answers, timeout=60, message="gunicorn to answer")
    yield web, port
    process_stop(process)


def test_the_run_command_listens_on_loopback_by_default(web_as_run_starts_it):
    web, port = web_as_run_starts_it
    assert web.command[web.command.index("--bind") + 1] == f"127.0.0.1:{port}"


def test_a_request_for_another_host_gets_no_debug_page(web_as_run_starts_it):
    _, port = web_as_run_starts_it
    started = time.monotonic()

    response = requests.get(f"http://127.0.0.1:{port}/", headers={"Host": LAN_HOST}, timeout=10)

    assert response.status_code == 400
    body = response.text
    assert time.monotonic() - started < 10
    for leak in ("Traceback", "DisallowedHost", "ALLOWED_HOSTS", "settings"):
        assert leak not in body


def test_a_missing_page_lists_no_url_patterns(web_as_run_starts_it):
    _, port = web_as_run_starts_it

    response = requests.get(f"http://127.0.0.1:{port}/no-such-page/", timeout=10)

    assert response.status_code == 404
    assert "URLconf" not in response.text and "api/" not in response.text


def test_a_server_for_the_network_has_debug_off_and_lets_the_lan_in(monkeypatch):
    monkeypatch.setattr(run, "lan_addresses_of_this_machine", lambda: ["192.168.1.7"])
    env = {"DEBUG": "true"}

    addresses = run.network_settings_apply("0.0.0.0", env)

    assert addresses == ["192.168.1.7"]
    assert env["DEBUG"] == "false"
    assert "192.168.1.7" in env["ALLOWED_HOSTS"].split(",")
    box = banner(port=8000, admin=None, broker="b", workers=set(), workers_ready=False,
                 lan_addresses=addresses)  # fmt: skip
    assert "On your network: http://192.168.1.7:8000/" in box


def test_on_loopback_the_box_says_how_to_let_teammates_in():
    env: dict[str, str] = {}
    assert run.network_settings_apply("127.0.0.1", env) is None
    assert env == {}
    box = banner(port=8000, admin=None, broker="b", workers=set(), workers_ready=False)
    assert "HOST=0.0.0.0 make run" in box
