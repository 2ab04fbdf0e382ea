"""The web image's process as its Dockerfile runs it: collectstatic at build, then gunicorn with
labelplatform.gunicorn_conf under production settings."""

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support import REPOSITORY
from tests.support.processes import free_port
from tests.support.production import production_environment, run_in_production


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    """gunicorn serving the app on a loopback port; yields (base URL, its stdout file)."""
    stdout = tmp_path_factory.mktemp("gunicorn") / "stdout.log"
    static_root = tmp_path_factory.mktemp("staticfiles")
    database = tmp_path_factory.mktemp("db") / "web.sqlite3"
    collected = run_in_production(
        "manage.py", "collectstatic", "--noinput", STATIC_ROOT=str(static_root)
    )
    assert collected.returncode == 0, collected.stderr
    port = free_port()
    sink = stdout.open("w")  # the child keeps its own copy of the descriptor
    gunicorn = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "--config",
            "python:labelplatform.gunicorn_conf",
            "labelplatform.wsgi",
        ],
        cwd=REPOSITORY,
        env=production_environment(
            PORT=str(port),
            WEB_CONCURRENCY="1",
            STATIC_ROOT=str(static_root),
            DATABASE_URL=f"sqlite:///{database}",
        ),
        stdout=sink,
        stderr=subprocess.DEVNULL,
    )
    sink.close()
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base_url}/healthz", timeout=2)
            break
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline or gunicorn.poll() is not None:
                gunicorn.kill()
                raise RuntimeError("gunicorn did not answer /healthz") from None
            time.sleep(0.2)
    try:
        yield base_url, stdout
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=30)


def _get(url: str, **headers: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, b""


def test_health_probe_answers_ok(web):
    base_url, _ = web
    assert _get(f"{base_url}/healthz") == (200, b"ok\n")


def test_static_files_collected_at_build_are_served_by_whitenoise(web):
    base_url, _ = web
    status, body = _get(
        f"{base_url}/static/vendor/htmx/htmx.min.js",
        Host="labels.example.com",
        **{"X-Forwarded-Proto": "https"},
    )
    assert status == 200
    assert body == (REPOSITORY / "static/vendor/htmx/htmx.min.js").read_bytes()


def test_pages_behind_the_tls_proxy_are_served(web):
    base_url, _ = web
    status, body = _get(
        f"{base_url}/accounts/login/",
        Host="labels.example.com",
        **{"X-Forwarded-Proto": "https"},
    )
    assert status == 200
    assert b"<form" in body


def test_every_stdout_line_is_json_and_requests_carry_their_duration(web):
    base_url, stdout = web
    _get(f"{base_url}/healthz?probe=duration")
    deadline = time.monotonic() + 10
    while "probe=duration" not in stdout.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)

    records = [json.loads(line) for line in stdout.read_text().splitlines()]
    [access] = [r for r in records if r.get("query") == "probe=duration"]
    assert access["logger"] == "gunicorn.access"
    assert (access["method"], access["path"], access["status"]) == ("GET", "/healthz", "200")
    assert isinstance(access["duration_ms"], int)
    assert any(r["logger"] == "gunicorn.error" for r in records)
