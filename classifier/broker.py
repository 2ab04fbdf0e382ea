"""What the platform asks the broker (Redis) itself, and how long a web request waits for it.

- A hung broker must not hang the pages. A stopped Redis refuses connections at once, so a
  failed send costs a millisecond; a Redis that accepts connections and never answers (a
  stopped process, a network dropping packets) costs the socket timeouts of
  CELERY_BROKER_TRANSPORT_OPTIONS on every call. After one such slow failure a process stops
  calling that broker from the web side for CLASSIFIER_BROKER_BACKOFF seconds
  (`broker_unresponsive`, `broker_call`): jobs asked meanwhile stay queued with a note, and
  are sent by the workers (on reconnection and at each reconciliation), never lost.
- `task_ids_in_broker` reads which task messages the broker still holds, so a periodic
  reconciliation (classifier.services.jobs_reconcile) can tell a job whose message is on its
  way from one whose message Redis lost (restarted without its data, or flushed).

Imported by the web process: nothing here imports TensorFlow. The Celery app is
`celery.current_app`, the project's (labelplatform.celery, loaded with Django by
labelplatform/__init__.py), so no classifier module imports the project's app module, which in
a worker process loads classifier.worker: no import cycle.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from celery import current_app
from django.conf import settings

logger = logging.getLogger(__name__)

# A failed call that took at least this long met a broker that does not answer, rather than
# one that is not there (refused at once): only that kind is worth not waiting for again.
_SLOW_FAILURE_SECONDS = 1.0
# Broker URL -> monotonic time until which web-side calls skip it. Per process; a float
# assignment is atomic, so gunicorn's threads share it without a lock.
_unresponsive_until: dict[str, float] = {}
# Messages read per LRANGE, so a long queue never comes back as one huge reply.
_LIST_CHUNK = 1000


def _broker_url() -> str:
    return current_app.conf.broker_url or ""


def broker_unresponsive() -> bool:
    """Whether a call to this process's broker timed out less than CLASSIFIER_BROKER_BACKOFF
    seconds ago (the web side then does not call it)."""
    return time.monotonic() < _unresponsive_until.get(_broker_url(), 0.0)


@contextmanager
def broker_call() -> Iterator[None]:
    """Around a call to the broker: a failure that took long marks the broker unresponsive
    (see broker_unresponsive). Exceptions pass through."""
    started = time.monotonic()
    try:
        yield
    except Exception:
        if time.monotonic() - started >= _SLOW_FAILURE_SECONDS:
            _unresponsive_until[_broker_url()] = (
                time.monotonic() + settings.CLASSIFIER_BROKER_BACKOFF
            )
            logger.warning(
                "The broker did not answer; web requests skip it for %s s",
                settings.CLASSIFIER_BROKER_BACKOFF,
            )
        raise


def task_ids_in_broker(*, queues: Iterable[str]) -> set[str] | None:
    """Ids of the task messages the broker holds: waiting in one of `queues`, or taken by a
    worker and not acknowledged yet. None when the broker is not Redis (nothing to read).

    Reads kombu's Redis layout: a list per queue and priority step, each item a JSON message
    whose headers carry the task id (Celery's protocol 2), and the `unacked` hash, whose
    values are [message, exchange, routing key]. Raises the broker's errors.
    """
    with current_app.connection_for_read() as connection:
        if connection.transport.driver_type != "redis":
            return None
        # The Redis transport's channel (kombu.transport.redis.Channel): its client and key names.
        channel: Any = connection.default_channel
        client = channel.client  # prefixes keys itself when global_keyprefix is set
        keys = {key for queue in queues for key in redis_queue_keys(channel, queue)}
        found: set[str] = set()
        for key in keys:
            start = 0
            while chunk := client.lrange(key, start, start + _LIST_CHUNK - 1):
                found.update(_task_id(json.loads(raw)) for raw in chunk)
                start += len(chunk)
        for raw in client.hvals(channel.unacked_key):
            found.add(_task_id(json.loads(raw)[0]))
    found.discard("")
    return found


def redis_queue_keys(channel, queue: str) -> set[str]:
    """The Redis lists in which kombu's Redis transport keeps `queue`'s messages, one per
    priority step (`channel`: a kombu.transport.redis.Channel).

    kombu has no public API for these names, so this is the one place that reads them from a
    private method, Channel._q_for_pri (kombu 5): the queue's name for priority 0 and
    `<queue><sep><step>` for the other steps. tests/classifier/test_broker.py publishes a
    message at every priority and fails when the lists it lands in are not these.
    """
    return {channel._q_for_pri(queue, priority) for priority in channel.priority_steps}


def _task_id(message: dict) -> str:
    headers = message.get("headers") or {}
    properties = message.get("properties") or {}
    return str(headers.get("id") or properties.get("correlation_id") or "")
