"""The embedded SQLite database gets query-planner statistics: the periodic reconciliation
analyses it (bounded), at most once an hour per process. PostgreSQL analyses itself."""

import pytest
from django.db import connection

from classifier import services
from labelplatform import database_statistics
from tests.factories import ImageFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def sqlite_only_and_due(monkeypatch):
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL's autovacuum keeps its own statistics")
    monkeypatch.setattr(database_statistics, "_last_run", None)


def statistics_of(table: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'")
        if cursor.fetchone() is None:
            return []
        cursor.execute("SELECT idx, stat FROM sqlite_stat1 WHERE tbl = %s", [table])
        return cursor.fetchall()


def test_the_reconciliation_gives_sqlite_statistics_for_its_planner(project):
    ImageFactory.create_batch(30, project=project)
    assert statistics_of("labeling_image") == []

    counts = services.jobs_reconcile()

    assert counts["database_statistics_refreshed"] == 1
    indexes = dict(statistics_of("labeling_image"))
    assert indexes and all(stat.startswith("30 ") for stat in indexes.values())


def test_the_statistics_are_refreshed_at_most_once_an_interval(project):
    assert services.jobs_reconcile()["database_statistics_refreshed"] == 1
    assert services.jobs_reconcile()["database_statistics_refreshed"] == 0
