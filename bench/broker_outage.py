"""What a broker outage costs the pages: request times with Redis up, hung and stopped.

    python bench/broker_outage.py [--rounds 20] [--data DIR]

Starts gunicorn as the run command does (bench/harness.py) with an embedded redis-server of
its own (never REDIS_URL: this script stops the broker), and no worker: only the web side is
measured. A project with an active version (a placeholder head; nothing predicts here), so an
upload queues a prediction job and so calls the broker. Then, logged in as the owner through a
session cookie as a browser is, for each broker state in turn:

- up: as usual;
- hung: the redis-server paused with SIGSTOP, so connections are accepted (by the kernel) and
  never answered, like a hung server or a network dropping packets;
- stopped: the redis-server terminated, so connections are refused;

`--rounds` times each of: an upload of one photo (the upload page's JSON POST), a label (the
labeling page's POST), and GETs of the dashboard, the labeling page, the Jobs page and its
workers panel (the one page that asks the broker). Prints p50 and max per request and state,
and how many took over a second.
"""

from __future__ import annotations

import argparse
import os
import signal
import time
from pathlib import Path

import harness
import requests

REQUESTS = ("upload", "label", "dashboard", "labeling page", "jobs page", "workers panel")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20, help="requests of each kind per state")
    parser.add_argument("--data", type=Path, default=harness.DEFAULT_DATA)
    parser.add_argument("--keep", action="store_true", help="keep the logs and data folder")
    arguments = parser.parse_args()
    os.environ.pop("REDIS_URL", None)  # the embedded broker, which this script may stop

    with harness.Stack(workers=(), web=True, keep=arguments.keep) as stack:
        owner = stack.owner()
        photos = harness.photos(3 * arguments.rounds + 1, arguments.data)
        project, _ = harness.project_with_photos(owner=owner, name="Outage", photos_=photos[:1])
        version_activate_placeholder(project)
        stack.wait_ready()
        print(stack.describe())
        session = logged_in(stack, owner, project)
        redis = stack.processes["redis"].popen
        remaining = iter(photos[1:])
        results = {}
        for state in ("up", "hung", "stopped"):
            if state == "hung":
                redis.send_signal(signal.SIGSTOP)
            elif state == "stopped":
                redis.send_signal(signal.SIGCONT)
                redis.terminate()
                redis.wait(20)
            results[state] = measure(stack, session, project, remaining, arguments.rounds)
            print(f"  measured with the broker {state} (load {harness.load_average()})")
        if redis.poll() is None:
            redis.send_signal(signal.SIGCONT)
        print_results(results, arguments.rounds)


def version_activate_placeholder(project) -> None:
    """An active version whose head is placeholder bytes: uploads then queue a prediction
    job (no worker runs here to read the head)."""
    from django.core.files.base import ContentFile

    from classifier.models import ModelVersion, ModelVersionStatus

    version = ModelVersion(
        project=project,
        version=1,
        backbone="efficientnet_lite0",
        class_ids=list(project.classes.values_list("pk", flat=True)),
        status=ModelVersionStatus.ACTIVE,
    )
    version.artifact.save("head.bin", ContentFile(b"placeholder"), save=False)
    version.save()


def logged_in(stack, owner, project):
    session = stack.browser_session(owner)
    page = session.get(f"{stack.url}/projects/{project.pk}/upload/", timeout=30)
    page.raise_for_status()
    session.headers["X-CSRFToken"] = session.cookies["csrftoken"]
    session.headers["Referer"] = stack.url
    return session


def measure(stack, session, project, photos, rounds: int) -> dict[str, list[float]]:
    base = f"{stack.url}/projects/{project.pk}"
    coffee = project.classes.get(name="coffee").pk
    times: dict[str, list[float]] = {name: [] for name in REQUESTS}

    def timed(name: str, call) -> requests.Response:
        started = time.perf_counter()
        response = call()
        times[name].append(time.perf_counter() - started)
        if response.status_code >= 400:
            raise RuntimeError(f"{name}: {response.status_code} {response.text[:300]}")
        return response

    for _ in range(rounds):
        photo = next(photos)
        uploaded = timed(
            "upload",
            lambda photo=photo: session.post(
                f"{base}/upload/",
                data={"split": "auto", "label": ""},
                files={"files": (photo.name, photo.data)},
                headers={"Accept": "application/json"},
                timeout=60,
            ),
        ).json()
        image = uploaded["created"][0]["id"]
        timed(
            "label",
            lambda image=image: session.post(
                f"{base}/label/annotate/", json={"image": image, "label_class": coffee}, timeout=60
            ),
        )
        timed("dashboard", lambda: session.get(f"{base}/", timeout=60))
        timed("labeling page", lambda: session.get(f"{base}/label/", timeout=60))
        timed("jobs page", lambda: session.get(f"{base}/jobs/", timeout=60))
        timed("workers panel", lambda: session.get(f"{base}/workers/", timeout=60))
    return times


def print_results(results: dict[str, dict[str, list[float]]], rounds: int) -> None:
    rows = []
    for name in REQUESTS:
        row = [name]
        for times in results.values():
            slow = sum(1 for seconds in times[name] if seconds > 1)
            row.append(
                f"{harness.median(times[name]) * 1000:.0f} / {max(times[name]) * 1000:.0f}"
                + (f" ({slow} > 1 s)" if slow else "")
            )
        rows.append(row)
    print()
    print(f"Request times in ms, p50 / max of {rounds} each (load {harness.load_average()}):")
    print(harness.table(["request", *(f"broker {state}" for state in results)], rows))


if __name__ == "__main__":
    main()
