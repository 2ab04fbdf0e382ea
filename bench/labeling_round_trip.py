"""The labeling pages in a real browser: seconds to upload N photos through the upload page,
then the labeling page's round trip per label.

    python bench/labeling_round_trip.py [--upload 500] [--labels 100] [--pace MS] [--data DIR]

Set up like the browser tests: a throwaway database (a temporary SQLite file, or test_<name> on
the server DATABASE_URL points at), a temporary media folder, Django's live server thread (a
threaded WSGI server) and Debian's chromium driven by Playwright. It prints:

- upload: seconds from the moment the files are chosen until the last verdict is shown (the
  page's own clock), and photos per second. The page sends a few files per request.
- per label, with median, 95th percentile and max: key press -> next image painted (what the
  annotator waits for), the label POST's round trip seen by the browser (it runs in the
  background and nobody waits for it), and the view's own time (its Server-Timing header).
  By default keys are pressed as soon as the next image shows, faster than anyone labels;
  --pace 500 waits half a second per image, like a quick annotator.
"""

import argparse
import itertools
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upload", type=int, default=500, help="photos to upload (default 500)")
    parser.add_argument("--labels", type=int, default=100, help="labels to time (default 100)")
    parser.add_argument("--pace", type=int, default=0, help="ms to look at each image (default 0)")
    parser.add_argument(
        "--data",
        type=Path,
        help="ImageFolder of photos (default: COFFEE_OR_NOT_DIR, or ../shared/data/coffee-or-not "
        "beside the checkout)",
    )
    arguments = parser.parse_args()
    if arguments.labels > arguments.upload:
        sys.exit("--labels cannot exceed --upload: only uploaded photos can be labeled.")

    sys.path.insert(0, str(REPOSITORY))
    from tests.support import coffee_or_not

    arguments.data = arguments.data or coffee_or_not.data_dir_or_exit()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labelplatform.settings.test")
    # Playwright's sync API keeps an event loop in this thread; the ORM calls here are sync.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.db import connection
    from django.test.testcases import LiveServerThread

    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    server = LiveServerThread("127.0.0.1", StaticFilesHandler)
    server.daemon = True
    server.start()
    server.is_ready.wait()
    try:
        if server.error:
            raise server.error
        run(arguments, f"http://127.0.0.1:{server.port}")
    finally:
        server.terminate()
        if connection.vendor == "postgresql":
            # The server's request threads may still hold sessions; the drop needs none.
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
        connection.creation.destroy_test_db(old_name, verbosity=0)
        if "labelplatform-test-media-" in str(settings.MEDIA_ROOT):
            shutil.rmtree(settings.MEDIA_ROOT, ignore_errors=True)


def photos_interleaved(data: Path, count: int) -> list[Path]:
    by_class = [
        sorted(folder.glob("*.jpg")) for folder in sorted(data.iterdir()) if folder.is_dir()
    ]
    mixed = [path for group in zip(*by_class, strict=False) for path in group]
    mixed += [path for group in by_class for path in group if path not in set(mixed)]
    if len(mixed) < count:
        sys.exit(f"Only {len(mixed)} photos under {data}.")
    return mixed[:count]


def run(arguments, url: str) -> None:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client
    from playwright.sync_api import sync_playwright

    from labeling.models import Annotation, Image
    from labeling.services import project_create

    user = get_user_model().objects.create_user("bench", password="bench-password")
    project = project_create(name="Bench", created_by=user, classes=["coffee", "other"])
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    photos = photos_interleaved(arguments.data, arguments.upload)
    megabytes = sum(path.stat().st_size for path in photos) / 1e6

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=url, viewport={"width": 1366, "height": 860})
        context.set_default_timeout(600_000)
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": url}])
        page = context.new_page()

        page.goto(f"/projects/{project.pk}/upload/")
        started = time.perf_counter()
        page.set_input_files("#file-input", [str(path) for path in photos])
        page.wait_for_selector("#upload-form[data-state=done]")
        wall = time.perf_counter() - started
        in_page = page.inner_text("#progress-text")
        stored = Image.objects.filter(project=project).count()
        print(f"upload: {len(photos)} photos ({megabytes:.1f} MB), {stored} stored")
        print(f"  page: {in_page}")
        print(
            f"  wall clock incl. handing the files to the browser: {wall:.1f} s, "
            f"{len(photos) / wall:.0f} photos/s"
        )

        page.goto(f"/projects/{project.pk}/label/")
        queue = list(
            Image.objects.filter(project=project)
            .order_by("created_at", "pk")
            .values_list("pk", flat=True)[: arguments.labels + 1]
        )
        for index, (image_id, next_id) in enumerate(itertools.pairwise(queue)):
            page.wait_for_selector(f'#frame img[data-image-id="{image_id}"]')
            if arguments.pace:
                page.wait_for_timeout(arguments.pace)
            page.keyboard.press("1" if index % 2 == 0 else "2")
            page.wait_for_selector(f'#frame img[data-image-id="{next_id}"]')
        page.wait_for_function(f"window.labelingMetrics.server.length >= {arguments.labels}")
        metrics = page.evaluate("window.labelingMetrics")
        browser.close()

    labeled = Annotation.objects.filter(user=user).count()
    pace = f"{arguments.pace} ms per image" if arguments.pace else "as fast as the page allows"
    print(
        f"labeling: {arguments.labels} labels by keyboard, {pace}; {labeled} saved"
        f" ({connection_vendor()})"
    )
    for name, what in [
        ("shown", "key press -> next image painted"),
        ("request", "label POST round trip (browser)"),
        ("server", "label POST, the view's own time"),
    ]:
        values = sorted(metrics[name])
        p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
        print(
            f"  {what:34s} median {statistics.median(values):6.1f} ms   "
            f"p95 {p95:6.1f} ms   max {values[-1]:6.1f} ms"
        )


def connection_vendor() -> str:
    from django.db import connection

    return connection.vendor


if __name__ == "__main__":
    main()
