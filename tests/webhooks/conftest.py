"""Fixtures for the webhooks: a real HTTP receiver on loopback, and the classifier's broker
and worker fixtures (a webhooks worker is a `celery worker -Q webhooks` like the others)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.classifier.conftest import (  # noqa: F401  (fixtures)
    _tiny_backbone,
    labeled_project,
    session_broker,
    session_worker,
    start_worker,
    worker,
)
from tests.support.processes import wait_until


@dataclass
class Call:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST and answers the statuses queued
    in `answers` (then 200), with a Location header for 3xx. While `answering` is cleared, a
    call is recorded but not answered (up to 60 s): a slow receiver."""

    port: int = 0
    calls: list[Call] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    answering: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def calls_of(self, event: str) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.headers.get("X-Webhook-Event") == event]

    def wait_for(self, event: str, count: int = 1, timeout: float = 60) -> list[Call]:
        return wait_until(
            lambda: (calls := self.calls_of(event)) and len(calls) >= count and calls,
            timeout=timeout,
            message=f"{count} call(s) of {event}",
        )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()
    state.answering.set()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with state.lock:
                state.calls.append(Call(self.path, dict(self.headers.items()), body))
                status = state.answers.pop(0) if state.answers else 200
            state.answering.wait(timeout=60)
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", state.url("/redirected"))
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    state.answering.set()
    server.shutdown()
    server.server_close()


# What the tests' webhooks worker runs with: the loopback receiver allowed, quick batches and
# retries.
WEBHOOKS_WORKER_ENV = {
    "WEBHOOKS_ALLOW_PRIVATE_ADDRESSES": "true",
    "WEBHOOKS_BATCH_SECONDS": "1",
    "WEBHOOKS_RETRY_BACKOFF": "0.3",
    "WEBHOOKS_MAX_ATTEMPTS": "3",
}


@pytest.fixture
def webhooks_settings(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
    settings.WEBHOOKS_BATCH_SECONDS = 1
    settings.WEBHOOKS_RETRY_BACKOFF = 0.3
    settings.WEBHOOKS_MAX_ATTEMPTS = 3
    return settings


@pytest.fixture
def webhooks_worker(request, webhooks_settings, transactional_db):
    """A `celery worker -Q webhooks`, as the run command starts (it loads no model)."""
    start = request.getfixturevalue("start_worker")
    return start(queues="webhooks", extra_env=WEBHOOKS_WORKER_ENV)
