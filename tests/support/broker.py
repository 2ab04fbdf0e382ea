"""The broker this test session's web side sends to, and switching it for one test.

The session's broker is the Redis the test command provides (REDIS_URL, private to that run)
or a redis-server the session starts for itself (tests/classifier/conftest.py, session_broker):
never a shared one, since a Redis database used by two test sessions at once lets one session's
worker take the other's messages (and drop them, their ids being unknown in its database).
"""

from __future__ import annotations

import contextlib

import kombu
import kombu.pools

from classifier import broker
from labelplatform.celery import app as celery_app

_session: dict[str, str] = {}


def session_broker_set(url: str) -> None:
    """Record `url` as this session's broker and point the web side at it."""
    _session["broker_url"] = url
    broker_use(url)


def session_broker_url() -> str:
    """The broker of this test session (see the session_broker fixture)."""
    return _session["broker_url"]


def broker_use(url: str) -> None:
    """Point this process's Celery app (the web side of the tests) at `url`."""
    celery_app.conf.update(broker_url=url, broker_write_url=None, broker_read_url=None)
    # kombu keeps pools in global registries keyed by broker URL: closing the app's pool
    # alone would leave a closed pool there, handed back ("Acquire on closed pool") the
    # next time this URL is used. reset() closes them and empties the registries.
    kombu.pools.reset()
    # Celery has no public way to drop the pools it caches; the next use makes new ones.
    celery_app._pool = None  # type: ignore[attr-defined]
    celery_app.amqp._producer_pool = None  # type: ignore[attr-defined]
    # A broker an earlier test hung may have left a back-off under a port reused since.
    broker._unresponsive_until.clear()


def queues_purge() -> None:
    """Drop messages a previous, interrupted test session left in the test broker."""
    with celery_app.connection_for_write() as connection:
        for name in ("training", "prediction"):
            with contextlib.suppress(Exception):  # the queue does not exist yet
                kombu.Queue(name).bind(connection.default_channel).purge()
