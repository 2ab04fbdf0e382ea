"""Fixtures for the browser tests: Debian's chromium driven by Playwright's sync API against
pytest-django's live server, pages logged in as a given user, screenshots (into a temporary
folder; with UPDATE_SCREENSHOTS=1 into docs/screenshots/, the README's), and real photos
stored through the real ingest.

Playwright's sync API runs an event loop in the test's thread, which makes Django refuse
database calls from that thread ("You cannot call this from an async context"); nothing
here is async, so that guard is switched off for the browser tests.
"""

import os

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.browser.support import (
    DESKTOP,
    DOCS_SCREENSHOTS,
    TIMEOUT_MS,
    screenshots_update_asked,
    session_cookie,
)
from tests.classifier.conftest import session_broker  # noqa: F401  (the worker tests' broker)
from tests.support.coffee_or_not import data_dir_or_not_available, photos_by_class

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(autouse=True)
def _transactional(transactional_db):
    """The live server answers from another thread: test data must be committed."""


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page_for(browser, live_server) -> Iterator[Callable[..., Page]]:
    """page_for(user, device=DESKTOP) -> a Page already logged in as `user` (or anonymous
    with user=None). Pages log their JavaScript errors, and a test fails on any."""
    with ExitStack() as contexts:
        errors: list[str] = []

        def open_page(user=None, device: dict = DESKTOP) -> Page:
            context = browser.new_context(base_url=live_server.url, **device)
            contexts.callback(context.close)
            context.set_default_timeout(TIMEOUT_MS)
            if user is not None:
                context.add_cookies([session_cookie(user, live_server.url)])
            page = context.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            return page

        yield open_page
        assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture(scope="session")
def screenshots_dir(tmp_path_factory) -> Path:
    """docs/screenshots/ when UPDATE_SCREENSHOTS=1 (the README shows them), else a temporary
    folder, so that a test run leaves the checkout as it found it."""
    if screenshots_update_asked():
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        return DOCS_SCREENSHOTS
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture
def screenshot(screenshots_dir) -> Callable[[Page, str], Path]:
    """screenshot(page, "name") saves name.png in screenshots_dir; returns its path."""

    def take(page: Page, name: str, *, full_page: bool = False) -> Path:
        path = screenshots_dir / f"{name}.png"
        # Let transitions (progress bars, fades) settle so the picture is stable.
        page.wait_for_timeout(300)
        page.screenshot(path=str(path), full_page=full_page, animations="disabled")
        return path

    return take


@pytest.fixture(scope="session")
def photos() -> dict[str, list[Path]]:
    """The real photos, {"coffee": [...], "other": [...]}, each list sorted by name."""
    return photos_by_class(data_dir_or_not_available(what="browser test"))
