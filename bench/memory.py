"""Memory: the web process after it has served every page, and each worker with its model.

    python bench/memory.py [--passes 3] [--data DIR]

Starts the platform on throwaway data (bench/harness.py) with gunicorn limited to ONE worker
process (so that one process serves every page; the run command starts two alike), uploads 300
coffee-or-not photos, 200 of them labeled, trains a version through the API (the training
worker embeds the 200, trains and evaluates; the prediction worker re-predicts every image,
embedding the 100 others in full batches), predicts 10 ad-hoc photos through the API, and
then, as a logged-in staff user, requests every URL of the app
(URL patterns with their ids filled in with 1, the first row of everything, which the run has
created: project, images, version, run, jobs, predictions; the admin's app pages too),
`--passes` times over. It prints the RSS and peak RSS (VmHWM) of:

- the gunicorn worker that served the pages (goal: at most 150 MB), and whether TensorFlow is
  in its address space (/proc/<pid>/maps holding a libtensorflow* library; goal: never);
- each Celery worker with its model loaded and after the jobs above (goal: at most 1 GB).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

import harness

WEB_GOAL_MB = 150
WORKER_GOAL_MB = 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passes", type=int, default=3, help="walks over every URL (3)")
    parser.add_argument("--data", type=Path, default=harness.DEFAULT_DATA)
    parser.add_argument("--keep", action="store_true", help="keep the logs and data folder")
    parser.add_argument(
        "--growth", type=int, default=0, metavar="N",
        help="also list the N URLs whose request grew the web worker's RSS most, per pass",
    )  # fmt: skip
    arguments = parser.parse_args()

    with harness.Stack(
        workers=("training", "prediction"), web=True, web_workers=1, keep=arguments.keep
    ) as stack:
        project, api, _ = harness.project_trained(
            stack, name="Memory", count=200, unlabeled=100, data=arguments.data
        )
        for photo in harness.photos(10, arguments.data, skip=300):
            harness.ad_hoc_predict(stack, api, project, photo)
        (web_pid,) = stack.web_worker_pids()
        master_pid = stack.processes["web"].pid
        browser = stack.browser_session(stack.owner())
        urls = every_url()
        rows = []
        statuses: Counter = Counter()
        failures = set()
        growth: dict[tuple[int, str], float] = {}  # (pass, url) -> MB the request added to the RSS
        for number in range(1, arguments.passes + 1):
            for url in urls:
                before = harness.process_memory(web_pid).rss_mb if arguments.growth else 0
                status = browser.get(stack.url + url, allow_redirects=False).status_code
                if arguments.growth:
                    growth[(number, url)] = harness.process_memory(web_pid).rss_mb - before
                statuses[status] += 1
                if status >= 500:
                    failures.add(f"{url} {status}")
            memory = harness.process_memory(web_pid)
            rows.append(web_row(f"gunicorn worker after pass {number}", memory))
        rows.append(web_row("gunicorn master", harness.process_memory(master_pid)))
        for queue in stack.worker_queues:
            memory = harness.process_memory(stack.worker_pid(queue))
            rows.append(
                [
                    f"celery worker '{queue}' (model loaded, jobs run)",
                    f"{memory.rss_mb:.0f}",
                    f"{memory.peak_mb:.0f}",
                    f"<= {WORKER_GOAL_MB}",
                    "met" if memory.peak_mb <= WORKER_GOAL_MB else "NOT MET",
                    "yes" if memory.tensorflow_mapped else "no",
                ]
            )
        load = harness.load_average()

    print()
    print(
        f"{len(urls)} URLs x {arguments.passes} passes as a staff user; statuses "
        + ", ".join(f"{code}: {count}" for code, count in sorted(statuses.items()))
        + f"; load avg {load}"
    )
    for failure in sorted(failures):
        print(f"  server error: {failure}")
    for number in range(1, arguments.passes + 1 if arguments.growth else 1):
        grown = sorted(((mb, url) for (n, url), mb in growth.items() if n == number), reverse=True)
        total = sum(mb for mb, _ in grown)
        print(f"pass {number}: the web worker grew {total:.1f} MB; most by")
        for mb, url in grown[: arguments.growth]:
            print(f"  {mb:+6.1f} MB  {url}")
    print(
        harness.table(
            ["process", "RSS MB", "peak MB", "goal MB", "met?", "TensorFlow mapped"], rows
        )
    )


def web_row(what: str, memory: harness.ProcessMemory) -> list[str]:
    met = memory.peak_mb <= WEB_GOAL_MB and not memory.tensorflow_mapped
    return [
        what,
        f"{memory.rss_mb:.0f}",
        f"{memory.peak_mb:.0f}",
        f"<= {WEB_GOAL_MB}, no TF",
        "met" if met else "NOT MET",
        "yes" if memory.tensorflow_mapped else "no",
    ]


def every_url() -> list[str]:
    """Every URL pattern of the app with its parameters filled in with 1 (the first row of
    everything), plus the admin's page of each app (a regular expression pattern)."""
    from django.contrib import admin
    from django.urls import URLResolver, get_resolver, reverse

    urls: list[str] = []

    def walk(patterns, prefix: str = "") -> None:
        for entry in patterns:
            route = getattr(entry.pattern, "_route", None)
            if route is None:  # a regular expression: nothing to fill in generically
                continue
            route = re.sub(r"<[^>]+>", "1", route)
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + route)
            else:
                urls.append("/" + prefix + route)

    walk(get_resolver().url_patterns)
    apps = {model._meta.app_label for model in admin.site._registry}
    urls += [reverse("admin:app_list", args=[app]) for app in sorted(apps)]
    # Signing out would end the walk's session.
    return [url for url in dict.fromkeys(urls) if "logout" not in url]


if __name__ == "__main__":
    main()
