"""Pages and labels while many clients wait on jobs (`?wait=`): p95 of the login page, a
project page and a label POST while `--waiters` clients keep waiting on a queued training run.

    python bench/long_polls.py [--waiters 50] [--seconds 30]

gunicorn as the run command starts it (bench/harness.py: 2 processes x 4 threads), no worker,
so the training run stays queued and every wait would last its full 30 s. Each waiter is a user
of its own with an API token, looping GET /api/training-runs/{id}/?wait=30 and honouring
Retry-After when refused (429, classifier.api.wait_slots). Meanwhile one client GETs the login
page and the project's dashboard and one annotator labels images through the API, one request
after the other. Prints p50/p95/max of each, the waits granted and refused, and the load.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections import Counter

import harness
import requests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waiters", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()

    with harness.Stack(workers=(), web=True) as stack:
        from classifier.models import JobStatus, TrainingRun
        from labeling.models import Image, Role
        from labeling.services import membership_set, project_create
        from tests.factories import ImageFactory

        owner = stack.owner()
        project = project_create(name="Waits", created_by=owner, classes=["coffee", "other"])
        run = TrainingRun.objects.create(project=project, status=JobStatus.QUEUED)
        waiters = []
        for index in range(args.waiters):
            user = stack.owner(f"waiter{index}")
            membership_set(project=project, user=user, role=Role.VIEWER)
            waiters.append(user)
        annotator = stack.owner("annotator")
        images = [ImageFactory(project=project, uploaded_by=owner) for _ in range(400)]
        stack.wait_ready()
        print(stack.describe(), f"| {args.waiters} waiters, {args.seconds:.0f} s")

        stop = threading.Event()
        outcomes: Counter = Counter()
        lock = threading.Lock()

        def wait_loop(user) -> None:
            api = stack.api(user)
            while not stop.is_set():
                try:
                    response = api.get(
                        f"{stack.url}/api/training-runs/{run.pk}/?wait=30", timeout=90
                    )
                except requests.RequestException as error:
                    with lock:
                        outcomes[type(error).__name__] += 1
                    stop.wait(1)
                    continue
                with lock:
                    outcomes[response.status_code] += 1
                if response.status_code == 429:
                    stop.wait(float(response.headers.get("Retry-After", "1")))

        threads = [threading.Thread(target=wait_loop, args=(u,), daemon=True) for u in waiters]
        for thread in threads:
            thread.start()
        time.sleep(3)  # the waits are open

        timings: dict[str, list[float]] = {"login page": [], "dashboard": [], "label POST": []}
        browser = stack.browser_session(owner)
        labeler = stack.api(annotator)
        ended = time.monotonic() + args.seconds
        index = 0
        loads = []
        while time.monotonic() < ended:
            image = images[index % len(images)]
            for name, call in (
                ("login page", lambda: harness_get(f"{stack.url}/accounts/login/")),
                ("dashboard", lambda: browser.get(f"{stack.url}/projects/{project.pk}/")),
                (
                    "label POST",
                    lambda image=image: labeler.post(
                        f"{stack.url}/api/images/{image.pk}/annotations/",
                        json={"label": "coffee"},
                    ),
                ),
            ):
                started = time.perf_counter()
                response = call()
                timings[name].append((time.perf_counter() - started) * 1000)
                assert response.status_code < 300, (name, response.status_code, response.text)
            index += 1
            loads.append(harness.load_average())
        stop.set()
        print(
            harness.table(
                ["request", "count", "p50 ms", "p95 ms", "max ms"],
                [
                    (name, len(values), f"{harness.median(values):.0f}",
                     f"{harness.percentile(values, 95):.0f}", f"{max(values):.0f}")
                    for name, values in timings.items()
                ],
            )
        )  # fmt: skip
        print(f"waits answered: {dict(outcomes)} (200 = waited, 429 = refused with Retry-After)")
        print(f"labels stored: {Image.objects.filter(annotations__user=annotator).count()}")
        print(f"load average at the end: {loads[-1] if loads else harness.load_average()}")
    return 0


def harness_get(url: str):
    return requests.get(url, timeout=90)


if __name__ == "__main__":
    raise SystemExit(main())
