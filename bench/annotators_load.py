"""Twenty annotators labeling through the API at once, while another client uploads photos and
the classifier retrains; then the database is checked for lost or duplicated labels.

    python bench/annotators_load.py [--annotators 20] [--images 2000] [--seconds 90]
                                    [--pace-ms 500] [--max-seconds 600] [--data DIR] [--keep]

Starts the platform on throwaway data (bench/harness.py: gunicorn as the run command starts
it, the training and prediction workers with the real backbone, the broker) and ingests a
2,000-image project through image_ingest (the coffee-or-not photos, then mirror images and
slight crops of them, so every file is a distinct image), 300 of them labeled by the owner so
there is something to train on. Twenty users are made annotators of the project, each with an
API token. Then, for `--seconds` (and at least until the retrain has finished, at most
`--max-seconds`), all at once:

- each annotator, as a token-authenticated API client, GETs a random page of the project's
  images (GET /api/projects/{id}/images/?page_size=20&page=N: the list only grows, so a page
  never runs off the end) and labels every image on it they have not labeled yet
  (POST /api/images/{id}/annotations/ {"label"}), pausing `--pace-ms` per image like a quick
  annotator; the label is the photo's folder, except for 5% deliberate mistakes (so some
  images become conflicts), and 3% of the labels are sent twice at the same moment (a
  double-click: both must succeed and leave one row);
- an uploader POSTs 5 new photos at a time to /api/projects/{id}/images/, one batch a second;
- the owner starts a retrain (POST /api/projects/{id}/training-runs/) and waits for it
  (GET /api/training-runs/{id}/?wait=30); its new version becomes active and re-predicts the
  project in the background while the labeling goes on.

The clients are threads of this one process (requests sessions, one per client): they spend
their time waiting on sockets, and the GIL keeps all of them together under one core, so the
two cores are left to the server. The script prints the share of a core it used itself.

Afterwards, against the database: every 2xx label POST is a row with that label (none lost),
no annotator has a row they never got a 2xx for, no (image, user) pair has two rows (the
Annotation model allows one: constraint annotation_one_per_user), every image's consensus
agrees with its annotations, every uploaded image is stored, and no response was a 5xx. It
prints p50/p95 of each kind of request, label throughput, the retrain's duration and phases,
and the load average (1-minute, sampled every second). Exits 1 if a check fails.

One file over 400 lines on purpose: the simulated annotators, the faults and the checks are
one scenario, read top to bottom.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import harness

PAGE_SIZE = 20
LABELED_BY_OWNER = 300
MISTAKE_RATE = 0.05
DOUBLE_SUBMIT_RATE = 0.03
UPLOAD_BATCH = 5
UPLOAD_PAUSE_SECONDS = 1.0
REQUEST_TIMEOUT_SECONDS = 60


@dataclass
class Call:
    """One HTTP request as a client saw it."""

    kind: str  # "label", "list", "upload", "retrain"
    status: int  # 0: no response (connection error, timeout)
    milliseconds: float
    error: str = ""


@dataclass
class Record:
    """Everything the clients did, appended from many threads (list.append is atomic)."""

    calls: list[Call] = field(default_factory=list)
    # (user id, image id, label name) of every label POST answered with a 2xx.
    labeled: list[tuple[int, int, str]] = field(default_factory=list)
    # (user id, image id) of every label POST without an answer: its outcome is unknown.
    unanswered: list[tuple[int, int]] = field(default_factory=list)
    uploaded_ids: list[int] = field(default_factory=list)
    double_submits: int = 0
    load_samples: list[float] = field(default_factory=list)
    retrain: dict = field(default_factory=dict)
    client_cpu_share: float = 0.0  # CPU seconds of this process per second of labeling


def timed(record: Record, kind: str, send):
    """Send a request (a function returning a requests.Response); record its status and
    time. Returns the response, or None when there was none."""
    import requests

    started = time.perf_counter()
    try:
        response = send()
    except requests.RequestException as error:
        elapsed = (time.perf_counter() - started) * 1000
        record.calls.append(Call(kind, 0, elapsed, f"{type(error).__name__}: {error}"[:300]))
        return None
    elapsed = (time.perf_counter() - started) * 1000
    problem = "" if response.status_code < 400 else response.text[:300]
    record.calls.append(Call(kind, response.status_code, elapsed, problem))
    return response


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--annotators", type=int, default=20)
    parser.add_argument("--images", type=int, default=2000, help="images in the project")
    parser.add_argument("--seconds", type=float, default=90, help="labeling time (default 90)")
    parser.add_argument(
        "--pace-ms", type=int, default=500, help="pause per image per annotator (default 500)"
    )
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=600,
        help="stop labeling by then even if the retrain has not finished (default 600)",
    )
    parser.add_argument("--data", type=Path, default=harness.DEFAULT_DATA)
    parser.add_argument("--keep", action="store_true", help="keep the logs and data folder")
    arguments = parser.parse_args()

    with harness.Stack(workers=("training", "prediction"), web=True, keep=arguments.keep) as stack:
        started = time.perf_counter()
        owner = stack.owner()
        owner.token = stack.api(owner).headers["Authorization"].removeprefix("Token ")
        photos = harness.photos(arguments.images + 1000, arguments.data)
        project_photos, upload_photos = photos[: arguments.images], photos[arguments.images :]
        project, _ = harness.project_with_photos(
            owner=owner, name="Load", photos_=project_photos, labeled=LABELED_BY_OWNER
        )
        annotators = annotators_create(project, arguments.annotators)
        print(
            f"set up {arguments.images} images ({LABELED_BY_OWNER} labeled) and"
            f" {len(annotators)} annotators in {time.perf_counter() - started:.0f} s"
        )
        stack.wait_ready()
        print(stack.describe())
        label_of = {photo.name: photo.label for photo in photos}
        record = Record()
        seconds = load_run(
            stack, project, owner, annotators, upload_photos, label_of, arguments, record
        )
        failures = checks(stack, project, annotators, record, arguments.images)
        report(record, seconds, arguments, stack)
    if failures:
        print("\nFAILED:\n- " + "\n- ".join(failures))
        sys.exit(1)
    print("\nall checks passed")


def annotators_create(project, count: int) -> list:
    """`count` users, annotators of the project, each with an API token (`user.token`)."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from labeling.models import Role
    from labeling.services import membership_set

    users = []
    for index in range(count):
        user = get_user_model().objects.create_user(f"annotator{index:02d}", password="x" * 12)
        membership_set(project=project, user=user, role=Role.ANNOTATOR)
        user.token = Token.objects.create(user=user).key  # type: ignore[attr-defined]  # carried
        users.append(user)
    return users


# ----------------------------------------------------------------------------------------------
# The load
# ----------------------------------------------------------------------------------------------
def load_run(stack, project, owner, annotators, upload_photos, label_of, arguments, record):
    """Run the clients until the time is up and the retrain has finished (or max-seconds);
    returns the seconds the labeling ran."""
    stop = threading.Event()
    retrain_done = threading.Event()
    threads = [
        threading.Thread(
            target=annotator_loop,
            args=(stack, project, user, label_of, arguments.pace_ms / 1000, record, stop, index),
            name=f"annotator-{index}",
        )
        for index, user in enumerate(annotators)
    ]
    threads.append(
        threading.Thread(
            target=uploader_loop,
            args=(stack, project, owner, upload_photos, record, stop),
            name="uploader",
        )
    )
    threads.append(
        threading.Thread(
            target=retrain, args=(stack, project, owner, record, retrain_done), name="retrain"
        )
    )
    monitor = threading.Thread(target=load_monitor, args=(record, stop), daemon=True)

    import psutil

    me = psutil.Process()
    cpu_before = sum(me.cpu_times()[:2])
    record.load_samples.append(os.getloadavg()[0])
    started = time.perf_counter()
    monitor.start()
    for thread in threads:
        thread.start()
    deadline = started + arguments.max_seconds
    while time.perf_counter() < deadline:
        elapsed = time.perf_counter() - started
        if elapsed >= arguments.seconds and retrain_done.is_set():
            break
        for name in ("web", *stack.worker_queues):
            stack.processes[name].check_alive()
        time.sleep(0.5)
    stop.set()
    labeling_seconds = time.perf_counter() - started
    for thread in threads:
        thread.join(REQUEST_TIMEOUT_SECONDS * 2)
    record.client_cpu_share = (sum(me.cpu_times()[:2]) - cpu_before) / labeling_seconds
    if not retrain_done.is_set():
        record.retrain.setdefault("error", f"not finished after {arguments.max_seconds:.0f} s")
    return labeling_seconds


def api_session(token: str):
    """A requests session authenticated with the token (made in the client threads, which
    never touch the database themselves)."""
    import requests

    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    return session


def annotator_loop(stack, project, user, label_of, pace, record, stop, index) -> None:
    """Random pages of the image list; label what is not labeled by me yet."""
    session = api_session(user.token)
    rng = random.Random(index)
    mine: set[int] = set()
    total = None
    while not stop.is_set():
        page = rng.randint(1, max(1, -(-total // PAGE_SIZE))) if total else 1
        response = timed(
            record,
            "list",
            lambda page=page: session.get(
                f"{stack.url}/api/projects/{project.pk}/images/",
                params={"page_size": PAGE_SIZE, "page": page},
                timeout=REQUEST_TIMEOUT_SECONDS,
            ),
        )
        if response is None or not response.ok:
            stop.wait(1)
            continue
        body = response.json()
        total = body["count"]
        for image in body["results"]:
            if stop.is_set():
                return
            if image["id"] in mine or any(a["user"] == user.username for a in image["annotations"]):
                mine.add(image["id"])
                continue
            label = label_of[image["original_name"]]
            if rng.random() < MISTAKE_RATE:
                label = "other" if label == "coffee" else "coffee"
            if rng.random() < DOUBLE_SUBMIT_RATE:
                record.double_submits += 1
                twin = threading.Thread(
                    target=label_post,
                    args=(
                        stack,
                        api_session(user.token),
                        user,
                        image["id"],
                        label,
                        record,
                    ),
                )
                twin.start()
                label_post(stack, session, user, image["id"], label, record)
                twin.join()
            else:
                label_post(stack, session, user, image["id"], label, record)
            mine.add(image["id"])
            if pace:
                stop.wait(pace)


def label_post(stack, session, user, image_id: int, label: str, record: Record) -> None:
    response = timed(
        record,
        "label",
        lambda: session.post(
            f"{stack.url}/api/images/{image_id}/annotations/",
            json={"label": label},
            timeout=REQUEST_TIMEOUT_SECONDS,
        ),
    )
    if response is None:
        record.unanswered.append((user.pk, image_id))
    elif response.ok:
        record.labeled.append((user.pk, image_id, label))


def uploader_loop(stack, project, owner, upload_photos, record, stop) -> None:
    session = api_session(owner.token)
    for start in range(0, len(upload_photos), UPLOAD_BATCH):
        if stop.is_set():
            return
        batch = upload_photos[start : start + UPLOAD_BATCH]
        response = timed(
            record,
            "upload",
            lambda batch=batch: session.post(
                f"{stack.url}/api/projects/{project.pk}/images/",
                files=[("files", (p.name, p.data, "image/jpeg")) for p in batch],
                data={"split": "auto"},
                timeout=REQUEST_TIMEOUT_SECONDS,
            ),
        )
        if response is not None and response.ok:
            record.uploaded_ids += [image["id"] for image in response.json()["created"]]
        stop.wait(UPLOAD_PAUSE_SECONDS)


def retrain(stack, project, owner, record, done: threading.Event) -> None:
    """Request a retrain and wait for it through the API, recording request-to-finished."""
    session = api_session(owner.token)
    started = time.perf_counter()
    try:
        response = timed(
            record,
            "retrain",
            lambda: session.post(
                f"{stack.url}/api/projects/{project.pk}/training-runs/",
                json={},
                timeout=REQUEST_TIMEOUT_SECONDS,
            ),
        )
        if response is None or not response.ok:
            record.retrain["error"] = "the retrain request failed"
            return
        run_id = response.json()["id"]
        while True:
            response = timed(
                record,
                "retrain wait",
                lambda: session.get(
                    f"{stack.url}/api/training-runs/{run_id}/?wait=30",
                    timeout=REQUEST_TIMEOUT_SECONDS,
                ),
            )
            if response is not None and response.ok:
                run = response.json()
                if run["status"] not in ("queued", "running"):
                    break
            else:
                time.sleep(1)
        record.retrain.update(run=run, seconds=time.perf_counter() - started)
        if run["status"] != "succeeded":
            record.retrain["error"] = f"run {run_id} {run['status']}: {run['error']}"
    finally:
        done.set()


def load_monitor(record: Record, stop: threading.Event) -> None:
    while not stop.wait(1):
        record.load_samples.append(os.getloadavg()[0])


# ----------------------------------------------------------------------------------------------
# Checks against the database
# ----------------------------------------------------------------------------------------------
def checks(stack, project, annotators, record: Record, images: int) -> list[str]:
    """What the database says against what the clients were told; the failures."""
    from django.db.models import Count

    from labeling.models import Annotation, Image, LabelStatus

    failures = []
    server_errors = [call for call in record.calls if call.status >= 500]
    if server_errors:
        kinds = Counter(f"{c.kind} {c.status}" for c in server_errors)
        failures.append(
            f"{len(server_errors)} 5xx responses: {dict(kinds)}; first: {server_errors[0].error}"
        )
    no_answer = [call for call in record.calls if call.status == 0]
    if no_answer:
        failures.append(f"{len(no_answer)} requests without an answer; first: {no_answer[0].error}")
    client_errors = [call for call in record.calls if 400 <= call.status < 500]
    if client_errors:
        failures.append(f"{len(client_errors)} 4xx responses; first: {client_errors[0].error}")

    user_ids = [user.pk for user in annotators]
    rows = {
        (user_id, image_id): name
        for user_id, image_id, name in Annotation.objects.filter(user_id__in=user_ids).values_list(
            "user_id", "image_id", "label_class__name"
        )
    }
    expected: dict[tuple[int, int], str] = {}
    for user_id, image_id, name in record.labeled:
        expected[(user_id, image_id)] = name  # one label per pair: twins send the same one
    lost = [pair for pair in expected if pair not in rows]
    wrong = [pair for pair, name in expected.items() if pair in rows and rows[pair] != name]
    unknown_outcome = set(record.unanswered)
    phantom = [pair for pair in rows if pair not in expected and pair not in unknown_outcome]
    duplicated = (
        Annotation.objects.filter(image__project=project)
        .values("image_id", "user_id")
        .annotate(rows=Count("pk"))
        .filter(rows__gt=1)
        .count()
    )
    stack.checked = {
        "label_posts_2xx": len(record.labeled),
        "pairs": len(expected),
        "rows": len(rows),
        "lost": len(lost),
        "wrong": len(wrong),
        "phantom": len(phantom),
        "duplicated": duplicated,
    }
    if lost:
        failures.append(f"{len(lost)} labels answered 2xx have no row, e.g. {lost[:3]}")
    if wrong:
        failures.append(f"{len(wrong)} rows hold another label than the one posted")
    if phantom:
        failures.append(f"{len(phantom)} rows no client was told about, e.g. {phantom[:3]}")
    if duplicated:
        failures.append(f"{duplicated} (image, user) pairs with more than one row")

    # Consensus as labeling.services.image_consensus_update computes it, from the rows.
    votes: dict[int, Counter] = defaultdict(Counter)
    for image_id, class_id in Annotation.objects.filter(image__project=project).values_list(
        "image_id", "label_class_id"
    ):
        votes[image_id][class_id] += 1
    inconsistent = 0
    stored = Image.objects.filter(project=project)
    for image in stored.filter(label_reviewed=False).only("pk", "label_id", "label_status"):
        counts = votes.get(image.pk, Counter())
        total = sum(counts.values())
        want: tuple[int | None, str] = (None, LabelStatus.UNLABELED)
        if total >= project.annotations_per_image:
            top, top_count = counts.most_common(1)[0]
            want = (top, LabelStatus.LABELED) if top_count * 2 > total else (None, "conflict")
        if (image.label_id, image.label_status) != want:
            inconsistent += 1
    stack.checked["consensus_inconsistent"] = inconsistent
    stack.checked["conflicts"] = stored.filter(label_status=LabelStatus.CONFLICT).count()
    if inconsistent:
        failures.append(f"{inconsistent} images whose label disagrees with their annotations")

    uploaded = set(record.uploaded_ids)
    missing = uploaded - set(stored.filter(pk__in=uploaded).values_list("pk", flat=True))
    stack.checked["uploaded"] = len(uploaded)
    if missing:
        failures.append(f"{len(missing)} uploaded images answered 201 are not stored")
    if stored.count() != images + len(uploaded):
        failures.append(f"{stored.count()} images stored, expected {images + len(uploaded)}")
    if record.retrain.get("error"):
        failures.append(f"retrain: {record.retrain['error']}")
    web_log = stack.processes["web"].log()
    stack.checked["web_log_tracebacks"] = web_log.count("Traceback")
    stack.checked["database_locked"] = web_log.count("database is locked")
    return failures


# ----------------------------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------------------------
def report(record: Record, seconds: float, arguments, stack) -> None:
    print()
    print(
        f"{arguments.annotators} annotators (threads, pace {arguments.pace_ms} ms per image),"
        f" one uploader ({UPLOAD_BATCH} photos per request), one retrain, for {seconds:.0f} s"
    )
    rows = []
    for kind in ("label", "list", "upload", "retrain", "retrain wait"):
        calls = [call for call in record.calls if call.kind == kind]
        if not calls:
            continue
        times = [call.milliseconds for call in calls]
        statuses = Counter(f"{call.status // 100}xx" if call.status else "none" for call in calls)
        rows.append(
            [
                kind,
                len(calls),
                f"{harness.percentile(times, 50):.0f}",
                f"{harness.percentile(times, 95):.0f}",
                f"{max(times):.0f}",
                " ".join(f"{key} {value}" for key, value in sorted(statuses.items())),
            ]
        )
    print(harness.table(["request", "n", "p50 ms", "p95 ms", "max ms", "answers"], rows))
    labels = len(record.labeled)
    print(
        f"throughput: {labels} labels answered 2xx in {seconds:.0f} s = {labels / seconds:.1f}"
        f" labels/s ({record.double_submits} double submits)"
    )
    retrain_ = record.retrain
    if "run" in retrain_:
        run = retrain_["run"]
        version = run.get("model_version") or {}
        timings = (version.get("metrics") or {}).get("timings", {})
        phases = ", ".join(
            f"{name} {timings[f'{name}_s']:.1f} s"
            for name in ("embedding", "training", "evaluating")
            if f"{name}_s" in timings
        )
        print(
            f"retrain: {run['status']} in {retrain_['seconds']:.1f} s request to finished"
            f" ({phases}); v{version.get('version')} {version.get('status')}"
        )
    samples = record.load_samples
    print(
        f"load average (1 min): {samples[0]:.1f} at the start, max {max(samples):.1f}, mean"
        f" {sum(samples) / len(samples):.1f}, {samples[-1]:.1f} at the end, on"
        f" {os.cpu_count()} CPUs; the clients used {record.client_cpu_share:.0%} of a core"
    )
    print("checks:", ", ".join(f"{key} {value}" for key, value in stack.checked.items()))


if __name__ == "__main__":
    main()
