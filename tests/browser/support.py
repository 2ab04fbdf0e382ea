"""What the browser tests share besides fixtures: devices, screenshots, photo order, waiting."""

import os
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.test import Client

from tests.support import REPOSITORY

# The README's screenshots. A test run writes its screenshots to a temporary folder and leaves
# these alone, unless asked to refresh them: UPDATE_SCREENSHOTS=1 make test.
DOCS_SCREENSHOTS = REPOSITORY / "docs" / "screenshots"
UPDATE_SCREENSHOTS = "UPDATE_SCREENSHOTS"


def screenshots_update_asked() -> bool:
    return os.environ.get(UPDATE_SCREENSHOTS, "").strip().lower() in {"1", "true", "yes"}


DESKTOP = {"viewport": {"width": 1366, "height": 860}}
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}

# Expectations wait this long (ms) before failing; the machine is shared and slow at times.
TIMEOUT_MS = 15_000


def interleaved(photos: dict[str, list[Path]], count: int, start: int = 0) -> list[Path]:
    """`count` photos alternating coffee and other, so a page shows both."""
    pairs = zip(photos["coffee"][start:], photos["other"][start:], strict=False)
    return [path for pair in pairs for path in pair][:count]


def wait_until(condition: Callable[[], object], *, timeout: float = TIMEOUT_MS / 1000) -> None:
    """Polls the database (or anything) until `condition()` is true: the page saves in the
    background, so its writes land a moment after the screen changes."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the condition")
        time.sleep(0.05)


def session_cookie(user, url: str) -> dict:
    """A logged-in session for `user`, as a cookie for the live server."""
    client = Client()
    client.force_login(user)
    return {
        "name": settings.SESSION_COOKIE_NAME,
        "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
        "url": url,
    }
