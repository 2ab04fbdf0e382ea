"""How many requests of a web process may wait on a job (`?wait=`) at once.

A waiting request holds its gunicorn thread for up to selectors.WAIT_MAX_SECONDS, and the
run command's web server has 2 processes x 4 threads: eight clients waiting on a queued job
(one script polling several jobs is enough) held every thread, and the login page took 58 s.
So each process lends only some of its threads to waits (API_WAITS_PER_PROCESS, 2 of the 4 by
default), and one user at most API_WAITS_PER_USER of those; the other threads always serve
pages, labels and uploads. A wait beyond either cap is answered at once with 429 and
Retry-After, and the client asks again then (or reads the job without ?wait=).

Why not asynchronous waiting (an ASGI worker awaiting a Redis notification): the whole site
would move to an async server where Django runs every synchronous view (all of ours) in one
thread per process by default; a bounded share of the threads fixes the starvation with no
change to anything else. The caps are per process: with N gunicorn processes a user may hold
up to N x API_WAITS_PER_USER waits, and pages keep N x (threads - API_WAITS_PER_PROCESS)
threads.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings

_lock = threading.Lock()
_open_by_user: Counter[int] = Counter()
# Seconds a client refused a wait is asked to come back after. Longer than gunicorn's keep-alive
# (2 s): a client reusing its connection exactly as the server closes it gets a reset.
RETRY_AFTER_SECONDS = 3


def waits_open() -> int:
    with _lock:
        return sum(_open_by_user.values())


@contextmanager
def wait_slot(user_id: int) -> Iterator[bool]:
    """Yields whether this request may wait: True holds a slot until the block ends."""
    with _lock:
        granted = (
            sum(_open_by_user.values()) < settings.API_WAITS_PER_PROCESS
            and _open_by_user[user_id] < settings.API_WAITS_PER_USER
        )
        if granted:
            _open_by_user[user_id] += 1
    try:
        yield granted
    finally:
        if granted:
            with _lock:
                _open_by_user[user_id] -= 1
                if _open_by_user[user_id] <= 0:
                    del _open_by_user[user_id]
