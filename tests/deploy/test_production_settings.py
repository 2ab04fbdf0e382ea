"""labelplatform.settings.production, exercised in child processes as a container starts it."""

import json

import pytest

from tests.support.production import run_in_production


def test_check_deploy_passes_with_no_warnings():
    result = run_in_production("manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_warns_when_https_redirect_is_turned_off():
    # The setting is configurable for a proxy that redirects itself; Django then says so.
    result = run_in_production(
        "manage.py", "check", "--deploy", "--fail-level", "WARNING", SECURE_SSL_REDIRECT="False"
    )
    assert result.returncode != 0
    assert "security.W008" in result.stderr


@pytest.mark.parametrize("variable", ["SECRET_KEY", "ALLOWED_HOSTS"])
def test_a_missing_required_variable_stops_the_start_with_an_error_naming_it(variable):
    result = run_in_production("manage.py", "check", **{variable: ""})
    assert result.returncode != 0
    assert (
        f"django.core.exceptions.ImproperlyConfigured: {variable} must be set in the environment"
        in result.stderr
    )


@pytest.mark.parametrize(
    "secret_key",
    ["insecure-local-development-key-change-me-0123456789", "change-me"],
    ids=["development default", "env.example placeholder"],
)
def test_a_known_or_short_secret_key_is_refused(secret_key):
    result = run_in_production("manage.py", "check", SECRET_KEY=secret_key)
    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY is too short or the development default" in (
        result.stderr
    )


def test_debug_stays_off_whatever_the_environment_says():
    result = run_in_production(
        "-c",
        "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)",
        DEBUG="True",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_celery_workers_send_task_events_for_flower_and_celery_events():
    result = run_in_production(
        "-c",
        "from labelplatform.celery import app; "
        "print(app.conf.worker_send_task_events, app.conf.task_send_sent_event)",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True"]


def test_a_job_log_line_is_one_json_object_with_its_extra_fields():
    result = run_in_production(
        "-c",
        "import django, logging; django.setup(); "
        "logging.getLogger('classifier.tasks').info("
        "'training finished', extra={'job_id': 17, 'duration_ms': 8123})",
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    record = json.loads(lines[0])
    assert record["message"] == "training finished"
    assert (record["job_id"], record["duration_ms"]) == (17, 8123)
    assert (record["level"], record["logger"]) == ("INFO", "classifier.tasks")
    assert "timestamp" in record


HEALTH_PROBE = (
    "import django; django.setup(); from django.test import Client; "
    "response = Client().get('/healthz'); print(response.status_code, response.content.decode())"
)


def test_the_health_probe_answers_plain_http_on_an_unlisted_host(tmp_path):
    # The test client's host ("testserver") is not in ALLOWED_HOSTS and the request is plain
    # HTTP: any other path is redirected to HTTPS; /healthz answers.
    result = run_in_production(
        "-c", HEALTH_PROBE, DATABASE_URL=f"sqlite:///{tmp_path / 'health.sqlite3'}"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["200", "ok"]


def test_the_health_probe_fails_when_the_database_is_unreachable():
    result = run_in_production(
        "-c", HEALTH_PROBE, DATABASE_URL="postgres://nobody@127.0.0.1:9/unreachable"
    )
    assert result.returncode == 0, result.stderr
    *log_lines, answer = result.stdout.strip().splitlines()
    assert answer.split()[0] == "503"
    assert json.loads(log_lines[0])["message"] == "health check: database unreachable"


def test_other_paths_are_redirected_to_https():
    result = run_in_production(
        "-c",
        "import django; django.setup(); from django.test import Client; "
        "response = Client().get('/', HTTP_HOST='labels.example.com'); "
        "print(response.status_code, response['Location'])",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["301", "https://labels.example.com/"]
