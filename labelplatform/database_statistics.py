"""Query-planner statistics for the embedded SQLite database.

SQLite plans queries from the statistics ANALYZE writes (sqlite_stat1) and never gathers them
by itself: a database that was never analysed plans as if every index were equally selective,
and picks a poor index on tables with several (images: by project, by split, by label status;
predictions: by version and confidence). PostgreSQL's autovacuum analyses on its own, so this
is SQLite only. Bounded by `PRAGMA analysis_limit` (an approximate ANALYZE: a few milliseconds
per index whatever the table's size), and run at most every STATISTICS_INTERVAL per process by
the periodic job reconciliation (classifier.services.jobs_reconcile).
"""

from __future__ import annotations

import sqlite3
import threading
import time

from django.db import connection

STATISTICS_INTERVAL_SECONDS = 3600
# Rows ANALYZE reads per index: SQLite's documented sweet spot is a few hundred to a thousand.
ANALYSIS_LIMIT = 1000

_lock = threading.Lock()
_last_run: float | None = None


def database_statistics_refresh() -> bool:
    """Refresh SQLite's planner statistics (PRAGMA optimize on SQLite 3.46+, a bounded ANALYZE
    before). Returns whether it ran: False on other databases."""
    if connection.vendor != "sqlite":
        return False
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
        if sqlite3.sqlite_version_info >= (3, 46, 0):
            # Every table, not only those this connection used; analyses only where useful.
            cursor.execute("PRAGMA optimize=0x10002")
        else:
            cursor.execute("ANALYZE")
    return True


def database_statistics_refresh_when_due() -> bool:
    """database_statistics_refresh() unless this process ran it less than an interval ago."""
    global _last_run
    with _lock:
        now = time.monotonic()
        if _last_run is not None and now - _last_run < STATISTICS_INTERVAL_SECONDS:
            return False
        _last_run = now
    return database_statistics_refresh()
