"""The soak: real work for N minutes while workers, Redis, PostgreSQL and the media disk fail at
random, then a check that nothing was lost and nothing is stuck.

    python bench/soak.py [--minutes 60] [--database auto|postgres|sqlite] [--seed 1]
                         [--annotators 10] [--backbone efficientnet_lite0] [--keep]

Everything runs on this machine and talks over loopback or unix sockets only, and everything is
private to the run (the machine's own PostgreSQL and Redis are never touched):

- the database: a PostgreSQL cluster of its own (initdb into a temporary folder, its own port;
  tests/support/postgres.py) when `initdb` is there (`--database auto`), else a SQLite file;
- the broker: a redis-server of its own on a free loopback port, with an append-only file so
  that a stop and start keeps the queue (and a "restart empty" deletes it);
- the media: a small tmpfs of its own (root only; a plain folder otherwise, and no disk-full
  fault), so that a full disk is real;
- the run command's processes with its own command lines (scripts/run.py): gunicorn, a
  training worker, two prediction workers and beat.

Then, for `--minutes`, at once (threads of this process, requests sessions):

- `--annotators` annotators label through the API (a random page of the project's images, a
  label for each image they have not labeled, a few hundred milliseconds apart);
- an uploader posts a few photos every few seconds, with a bad file now and then (not an
  image, a truncated JPEG), which must be refused with a reason;
- the owner retrains every minute or so, waits for the run (`?wait=`, honouring 429), and
  activates the new version when it stayed a candidate, every other time;
- a client asks for an ad-hoc prediction and downloads the CSV export now and then;
- faults, one at a time from a schedule drawn from `--seed`: SIGKILL a worker (restarted a few
  seconds later under its name), stop and start Redis, restart Redis empty, restart PostgreSQL,
  fill the media disk for a while (a filler file on the tmpfs).

At the end the faults are repaired, the jobs given time to settle (the reconciliation runs
every 10 s here), and the database and storage are checked:

- every label and upload that got a 2xx is there, once (the label the client last had
  acknowledged for that image and user; each created image once);
- every job is finished (no queued or running row);
- every model artifact file belongs to a version and every version's file exists;
- every image of the project has a prediction from the active version;
- no 5xx but the documented 503 (database or broker unreachable) and 507 (storage full), and
  those only inside a fault window (the fault and 20 s after it).

It prints the counts (requests by kind and status, labels, uploads, jobs, faults by kind,
failures by kind) with the load average, and exits 1 when a check fails. tests/test_soak.py
runs it for 3 minutes with the tests' tiny backbone.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import harness

sys.path.insert(0, str(harness.REPOSITORY))

from tests.support.postgres import PrivatePostgres, postgres_bin_dir
from tests.support.processes import free_port

FAULT_AFTER_SECONDS = 20  # a 503/507 this long after a fault ended still counts as its own
REQUEST_TIMEOUT = 60
SETTLE_TIMEOUT_SECONDS = 300
MEDIA_TMPFS_MB = 400
PREDICTION_WORKERS = ("prediction1", "prediction2")
WORKERS = ("training", *PREDICTION_WORKERS)
# Faster than the defaults so a short soak sees the repairs: reconciliation every 10 s, a
# silent job declared lost after 30 s, the web leaving a broker that timed out alone for 5 s.
SOAK_SETTINGS = {
    "CLASSIFIER_JOB_RECONCILE_INTERVAL": "10",
    "CLASSIFIER_JOB_RECONCILE_AFTER": "10",
    "CLASSIFIER_JOB_HEARTBEAT_TIMEOUT": "30",
    "CLASSIFIER_BROKER_BACKOFF": "5",
}


# ----------------------------------------------------------------------------------------------
# What happened: every response, every fault window
# ----------------------------------------------------------------------------------------------
@dataclass
class Record:
    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: Counter = field(default_factory=Counter)  # (kind, status) -> count
    unexpected: list = field(default_factory=list)  # (kind, status, when, text)
    fault_windows: list = field(default_factory=list)  # [start, end or None, name]
    faults: Counter = field(default_factory=Counter)
    fault_errors: list = field(default_factory=list)  # (fault, error) not injected/repaired
    labels: dict = field(default_factory=dict)  # (image id, username) -> label acknowledged
    uploaded: list = field(default_factory=list)  # image ids in 2xx answers
    bad_files_refused: int = 0
    bad_files_stored: list = field(default_factory=list)
    trainings: Counter = field(default_factory=Counter)
    activations: int = 0
    ad_hoc: Counter = field(default_factory=Counter)
    exports: int = 0

    def in_fault_window(self, when: float) -> bool:
        with self.lock:
            return any(
                start <= when <= (end if end is not None else float("inf")) + FAULT_AFTER_SECONDS
                for start, end, _ in self.fault_windows
            )

    def response(self, kind: str, response) -> None:
        """Count a response; a 5xx other than 503/507, or one outside a fault window, is
        unexpected."""
        status = response.status_code if response is not None else "no answer"
        with self.lock:
            self.statuses[(kind, status)] += 1
        if isinstance(status, int) and status >= 500:
            now = time.monotonic()
            if status not in (503, 507) or not self.in_fault_window(now):
                with self.lock:
                    self.unexpected.append((kind, status, now, response.text[:300]))


def call(record: Record, kind: str, method, *args, **kwargs):
    """One request; None when it got no answer (connection refused or reset, timeout)."""
    import requests

    try:
        response = method(*args, timeout=REQUEST_TIMEOUT, **kwargs)
    except requests.RequestException:
        record.response(kind, None)
        return None
    record.response(kind, response)
    return response


# ----------------------------------------------------------------------------------------------
# The platform, private to the run
# ----------------------------------------------------------------------------------------------
class PrivateRedisServer:
    """redis-server on a loopback port of its own; its append-only file keeps the queue across
    a stop and start, `wipe()` deletes it (a restart empty)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        from scripts.broker import redis_reachable
        from tests.support.redis_server import redis_server_binary

        log = (self.folder / "redis.log").open("ab")
        self.process = subprocess.Popen(
            [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", str(self.folder), "--appendonly", "yes", "--appendfsync", "everysec",
             "--save", ""],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 15
        while not redis_reachable(self.url, timeout=0.5):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("the soak's redis-server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(15)

    def wipe(self) -> None:
        for leftover in self.folder.glob("appendonly*"):
            if leftover.is_dir():
                shutil.rmtree(leftover)
            else:
                leftover.unlink()
        for leftover in self.folder.glob("*.rdb"):
            leftover.unlink()


class Platform:
    def __init__(self, args) -> None:
        self.args = args
        self.folder = Path(tempfile.mkdtemp(prefix="labelplatform-soak-"))
        self.processes: dict[str, harness.Process] = {}
        self.postgres: PrivatePostgres | None = None
        self.media_tmpfs = False
        self.port = free_port()
        self.redis = PrivateRedisServer(self.folder / "redis")

    # -- setup -------------------------------------------------------------------------------
    def start(self) -> None:
        database = self.args.database
        bin_dir = postgres_bin_dir()
        if database == "auto":
            database = "postgres" if bin_dir else "sqlite"
        if database == "postgres":
            if bin_dir is None:
                sys.exit("--database postgres: no initdb on this machine")
            self.postgres = PrivatePostgres(bin_dir).create()
            # The throwaway cluster turns synchronous_commit off for speed: a crash (an
            # "immediate" stop) would then lose commits already acknowledged, which is what
            # this soak checks never happens. (fsync stays off: the OS keeps the writes.)
            with (self.postgres.data_dir / "postgresql.conf").open("a") as conf:
                conf.write("synchronous_commit = on\n")
            self.postgres.start()
            import psycopg

            with psycopg.connect(self.postgres.url(), autocommit=True) as connection:
                connection.execute("CREATE DATABASE soak")
            database_url = self.postgres.url("soak") + "?conn_max_age=60&conn_health_checks=True"
        else:
            database_url = f"sqlite:///{self.folder / 'soak.sqlite3'}"
        media = self.folder / "media"
        media.mkdir()
        if os.geteuid() == 0:
            mounted = subprocess.run(
                ["mount", "-t", "tmpfs", "-o", f"size={MEDIA_TMPFS_MB}m", "tmpfs", str(media)],
                capture_output=True,
            )
            self.media_tmpfs = mounted.returncode == 0
        self.redis.start()
        extra_backbones = os.environ.get("CLASSIFIER_EXTRA_BACKBONES", "")
        if self.args.backbone == "tiny":
            extra_backbones = "tiny=tests.classifier.tiny_backbone.load"
        os.environ.update(
            DJANGO_SETTINGS_MODULE="labelplatform.settings.local",
            DEBUG="False",
            SECRET_KEY="soak-" + "x" * 60,
            DATABASE_URL=database_url,
            MEDIA_ROOT=str(media),
            STATIC_ROOT=str(self.folder / "static"),
            REDIS_URL=self.redis.url,
            CLASSIFIER_BACKBONE=self.args.backbone,
            CLASSIFIER_EXTRA_BACKBONES=extra_backbones,
            CLASSIFIER_WEIGHTS_DIR=os.environ.get(
                "CLASSIFIER_WEIGHTS_DIR", str(harness.REPOSITORY / "var" / "weights")
            ),
            PYTHONUNBUFFERED="1",
            TF_CPP_MIN_LOG_LEVEL="2",
            **SOAK_SETTINGS,
        )
        os.environ.pop("CELERY_BROKER_URL", None)
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        for name in ("web", *WORKERS, "beat"):
            self.spawn(name)

    def command(self, name: str) -> list[str]:
        from scripts.run import services

        by_name = {service.name: list(service.command) for service in services(port=self.port)}
        if name in PREDICTION_WORKERS:
            command = by_name["prediction"]
            command[command.index("-n") + 1] = f"{name}@%h"
            return command
        return by_name[name]

    def spawn(self, name: str) -> None:
        log_path = self.folder / f"{name}.log"
        with log_path.open("ab") as log:
            popen = subprocess.Popen(
                self.command(name), cwd=harness.REPOSITORY, env=dict(os.environ),
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        self.processes[name] = harness.Process(name, popen, log_path)

    def wait_ready(self) -> None:
        import requests

        for name in WORKERS:
            process = self.processes[name]

            def ready(process: Any = process) -> bool:
                return bool(process.check_alive() or " ready." in process.log())

            harness.wait_for(ready, timeout=300, what=f"the {name} worker", interval=0.2)

        def answers() -> bool:
            self.processes["web"].check_alive()
            try:
                return requests.get(f"{self.url}/accounts/login/", timeout=5).ok
            except requests.ConnectionError:
                return False

        harness.wait_for(answers, timeout=120, what="gunicorn", interval=0.2)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def describe(self) -> str:
        database = "PostgreSQL (private cluster)" if self.postgres else "SQLite"
        media = f"tmpfs {MEDIA_TMPFS_MB} MB" if self.media_tmpfs else "a folder (no disk-full)"
        return (
            f"database {database}, broker private redis-server, media {media}, backbone "
            f"{self.args.backbone}; gunicorn, training, {' and '.join(PREDICTION_WORKERS)}, beat"
        )

    # -- faults ------------------------------------------------------------------------------
    def worker_kill(self, name: str) -> None:
        process = self.processes[name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.popen.wait(10)

    def disk_fill(self) -> Path:
        """Fill the media tmpfs to the last byte with one file (the caller deletes it).
        Unbuffered, and the "disk full" error caught around the file's close as well: a
        buffered file raised it again when closing, which ended the fault thread and left
        the disk full for the rest of the run."""
        filler = Path(os.environ["MEDIA_ROOT"]) / "soak-filler.bin"
        chunk = b"\0" * (1 << 20)
        with contextlib.suppress(OSError), filler.open("wb", buffering=0) as out:
            while True:
                out.write(chunk)
        return filler

    # -- teardown ----------------------------------------------------------------------------
    def stop(self) -> None:
        for name in [n for n in self.processes if n != "beat"] + ["beat"]:
            if name in self.processes:
                self.processes[name].stop()
        self.redis.stop()
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        if self.postgres is not None:
            self.postgres.destroy() if not self.args.keep else self.postgres.stop()
        if self.media_tmpfs:
            subprocess.run(["umount", "-l", os.environ["MEDIA_ROOT"]], check=False)
        # What the processes logged as errors, read before the folder goes: a failed run
        # says why without --keep (the 3-minute run in the tests keeps nothing).
        self.server_errors = logged_errors(self.folder)
        if self.args.keep:
            print(f"(logs and data kept in {self.folder})")
        else:
            shutil.rmtree(self.folder, ignore_errors=True)


def logged_errors(folder: Path) -> list[str]:
    """Each traceback in the processes' logs as "log: time, last line" (the exception)."""
    errors = []
    for log in sorted(folder.glob("*.log")):
        lines = log.read_text(errors="replace").splitlines()
        when = ""
        for number, line in enumerate(lines):
            if " ERROR " in line:
                when = line[:23]
            if line.startswith("Traceback"):
                # The exception is the first line after the block that is not indented.
                for after in lines[number + 1 :]:
                    if after and not after.startswith((" ", "Traceback", "During", "The above")):
                        errors.append(f"{log.stem}: {when} {after[:300]}")
                        break
    return errors


# ----------------------------------------------------------------------------------------------
# The users
# ----------------------------------------------------------------------------------------------
def annotator_loop(platform, record: Record, user, project_id: int, stop, rng) -> None:
    api = platform.session_for(user)
    labels = ["coffee", "other"]
    while not stop.is_set():
        page = rng.randint(1, 8)
        listing = call(
            record, "image list", api.get,
            f"{platform.url}/api/projects/{project_id}/images/?page_size=20&page={page}",
        )  # fmt: skip
        if listing is None or listing.status_code != 200:
            stop.wait(1)
            continue
        for image in listing.json().get("results", []):
            if stop.is_set():
                return
            label = rng.choice(labels)
            response = call(
                record, "label POST", api.post,
                f"{platform.url}/api/images/{image['id']}/annotations/", json={"label": label},
            )  # fmt: skip
            if response is not None and 200 <= response.status_code < 300:
                with record.lock:
                    record.labels[(image["id"], user.username)] = label
            stop.wait(rng.uniform(0.2, 0.6))


BAD_FILES = {
    "not-an-image.jpg": b"this is not a picture at all" * 20,
    "truncated.jpg": None,  # filled from a real photo below
}


def uploader_loop(platform, record: Record, user, project_id: int, stop, rng, photos) -> None:
    api = platform.session_for(user)
    truncated = photos[0].data[: len(photos[0].data) // 3]
    index = 0
    while not stop.is_set() and index < len(photos):
        batch = photos[index : index + 3]
        index += 3
        files = [("files", (photo.name, photo.data, "image/jpeg")) for photo in batch]
        bad = rng.random() < 0.3
        if bad:
            bad_name = rng.choice(list(BAD_FILES))
            content = BAD_FILES[bad_name] or truncated
            files.append(("files", (f"{index}-{bad_name}", content, "image/jpeg")))
        response = call(
            record, "upload", api.post, f"{platform.url}/api/projects/{project_id}/images/",
            files=files,
        )  # fmt: skip
        if response is not None and response.status_code in (200, 201, 207, 507, 503):
            body = response.json()
            created = body.get("created", [])
            with record.lock:
                record.uploaded += [item["id"] for item in created]
                if bad:
                    names = {item.get("original_name") or item.get("name") for item in created}
                    if any(name and name.endswith(("not-an-image.jpg", "truncated.jpg"))
                           for name in names):  # fmt: skip
                        record.bad_files_stored.append(index)
                    elif response.status_code < 300:
                        record.bad_files_refused += 1
        stop.wait(rng.uniform(2, 4))


def owner_loop(platform, record: Record, owner, project_id: int, stop, rng, pause) -> None:
    api = platform.session_for(owner)
    rounds = 0
    while not stop.wait(pause):
        rounds += 1
        created = call(
            record, "retrain", api.post,
            f"{platform.url}/api/projects/{project_id}/training-runs/", json={},
        )  # fmt: skip
        if created is None or created.status_code not in (200, 202):
            continue
        run_id = created.json()["id"]
        run = None
        deadline = time.monotonic() + 300
        while not stop.is_set() and time.monotonic() < deadline:
            response = call(
                record, "run wait", api.get,
                f"{platform.url}/api/training-runs/{run_id}/?wait=30",
            )  # fmt: skip
            if response is None or response.status_code >= 500:
                stop.wait(2)
                continue
            if response.status_code == 429:
                stop.wait(float(response.headers.get("Retry-After", "2")))
                continue
            run = response.json()
            if run["status"] not in ("queued", "running"):
                break
        if run is None:
            continue
        with record.lock:
            record.trainings[run["status"]] += 1
        version = run.get("model_version")
        if version and version.get("status") == "candidate" and rounds % 2 == 0:
            response = call(
                record, "activate", api.post,
                f"{platform.url}/api/model-versions/{version['id']}/activate/", json={},
            )  # fmt: skip
            if response is not None and response.status_code < 300:
                with record.lock:
                    record.activations += 1


def occasional_loop(platform, record: Record, owner, project_id: int, stop, rng, photo) -> None:
    api = platform.session_for(owner)
    while not stop.wait(rng.uniform(8, 15)):
        created = call(
            record, "ad-hoc predict", api.post,
            f"{platform.url}/api/projects/{project_id}/predictions/",
            files=[("files", ("ad-hoc.jpg", photo.data, "image/jpeg"))],
        )  # fmt: skip
        if created is not None and created.status_code == 202:
            job = call(
                record, "ad-hoc wait", api.get,
                f"{platform.url}/api/prediction-jobs/{created.json()['id']}/?wait=20",
            )  # fmt: skip
            if job is not None and job.status_code == 200:
                with record.lock:
                    record.ad_hoc[job.json()["status"]] += 1
        export = call(
            record, "export", api.get,
            f"{platform.url}/api/projects/{project_id}/export/?format=csv",
        )  # fmt: skip
        if export is not None and export.status_code == 200:
            with record.lock:
                record.exports += 1


def fault_loop(platform: Platform, record: Record, stop, rng, interval: float) -> None:
    kinds = ["worker SIGKILL", "redis stop/start", "redis restart empty"]
    if platform.postgres is not None:
        kinds.append("postgres restart")
    if platform.media_tmpfs:
        kinds.append("media disk full")
    while not stop.wait(rng.uniform(interval * 0.6, interval * 1.4)):
        kind = rng.choice(kinds)
        window = [time.monotonic(), None, kind]
        with record.lock:
            record.fault_windows.append(window)
            record.faults[kind] += 1
        print(f"  fault at {time.strftime('%H:%M:%S')}: {kind}", flush=True)
        try:
            if kind == "worker SIGKILL":
                name = rng.choice(WORKERS)
                platform.worker_kill(name)
                stop.wait(rng.uniform(2, 6))
                platform.spawn(name)
            elif kind == "redis stop/start":
                platform.redis.stop()
                stop.wait(rng.uniform(3, 10))
                platform.redis.start()
            elif kind == "redis restart empty":
                platform.redis.stop()
                platform.redis.wipe()
                platform.redis.start()
            elif kind == "postgres restart":
                assert platform.postgres is not None
                platform.postgres.stop(rng.choice(["fast", "immediate"]))
                stop.wait(rng.uniform(1, 5))
                platform.postgres.start()
            elif kind == "media disk full":
                filler = platform.disk_fill()
                try:
                    stop.wait(rng.uniform(5, 12))
                finally:
                    filler.unlink(missing_ok=True)
        except Exception as error:
            # A fault that could not be injected (or repaired) fails the run, loudly, and the
            # schedule goes on: the thread used to end here and the run went on without faults.
            with record.lock:
                record.fault_errors.append((kind, repr(error)))
            print(f"  fault {kind} failed: {error!r}", flush=True)
        finally:
            window[1] = time.monotonic()


# ----------------------------------------------------------------------------------------------
# Settling and the checks
# ----------------------------------------------------------------------------------------------
def everything_running(platform: Platform) -> None:
    """After the faults: every process there (a worker killed by a fault is back)."""
    for name in (*WORKERS, "beat", "web"):
        if platform.processes[name].popen.poll() is not None:
            print(f"  {name} had exited (code {platform.processes[name].popen.returncode}): "
                  "started again")  # fmt: skip
            platform.spawn(name)


def final_training(platform, record: Record, owner, project_id: int) -> str:
    api = platform.session_for(owner)
    deadline = time.monotonic() + SETTLE_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        created = call(
            record, "retrain", api.post,
            f"{platform.url}/api/projects/{project_id}/training-runs/", json={},
        )  # fmt: skip
        if created is None or created.status_code not in (200, 202):
            time.sleep(2)
            continue
        run_id = created.json()["id"]
        while time.monotonic() < deadline:
            response = call(
                record, "run wait", api.get, f"{platform.url}/api/training-runs/{run_id}/?wait=30"
            )
            if response is None or response.status_code != 200:
                time.sleep(3)
                continue
            run = response.json()
            if run["status"] in ("queued", "running"):
                continue
            if run["status"] == "succeeded":
                version = run.get("model_version") or {}
                if version.get("status") == "candidate":
                    call(
                        record, "activate", api.post,
                        f"{platform.url}/api/model-versions/{version['id']}/activate/", json={},
                    )  # fmt: skip
                return "succeeded"
            break  # a run started before the faults ended may have failed: train again
    return "did not succeed in time"


def jobs_settled() -> bool:
    from classifier.models import UNFINISHED_STATUSES, PredictionJob, TrainingRun

    return not any(
        model.objects.filter(status__in=UNFINISHED_STATUSES).exists()
        for model in (TrainingRun, PredictionJob)
    )


def unpredicted(project_id: int) -> int:
    from django.db.models import Exists, OuterRef

    from classifier.models import ModelVersion, ModelVersionStatus, Prediction
    from labeling.models import Image

    active = ModelVersion.objects.filter(
        project_id=project_id, status=ModelVersionStatus.ACTIVE
    ).first()
    if active is None:
        return Image.objects.filter(project_id=project_id).count()
    return (
        Image.objects.filter(project_id=project_id)
        .exclude(Exists(Prediction.objects.filter(image=OuterRef("pk"), model_version=active)))
        .count()
    )


def checks(record: Record, project_id: int, annotator_names: set[str]) -> dict[str, object]:
    from django.core.files.storage import default_storage
    from django.db import connections
    from django.db.models import Count

    from classifier.models import UNFINISHED_STATUSES, ModelVersion, PredictionJob, TrainingRun
    from classifier.services.jobs import model_artifacts_orphaned_delete
    from labeling.models import Annotation, Image

    connections.close_all()  # the database may have restarted under this process
    failures: dict[str, object] = {}
    stored = {
        (image_id, username): label
        for image_id, username, label in Annotation.objects.filter(
            user__username__in=annotator_names
        ).values_list("image_id", "user__username", "label_class__name")
    }
    lost = [key for key in record.labels if key not in stored]
    wrong = [key for key, label in record.labels.items() if stored.get(key, label) != label]
    duplicates = (
        Annotation.objects.values("image_id", "user_id").annotate(n=Count("id")).filter(n__gt=1)
    )
    if lost:
        failures["labels acknowledged but missing"] = sorted(lost)[:20]
    if wrong:
        failures["labels stored with another class than acknowledged"] = len(wrong)
    if duplicates.exists():
        failures["(image, user) with several labels"] = duplicates.count()
    uploaded = Counter(record.uploaded)
    missing_uploads = [pk for pk in uploaded if not Image.objects.filter(pk=pk).exists()]
    if missing_uploads:
        failures["uploads acknowledged but missing"] = sorted(missing_uploads)
    if any(n > 1 for n in uploaded.values()):
        failures["one image acknowledged twice as created"] = sum(n > 1 for n in uploaded.values())
    same_content = (
        Image.objects.filter(project_id=project_id)
        .values("sha256").annotate(n=Count("id")).filter(n__gt=1)
    )  # fmt: skip
    if same_content.exists():
        failures["images stored twice"] = same_content.count()
    if record.bad_files_stored:
        failures["bad files stored"] = len(record.bad_files_stored)
    unfinished = sum(
        model.objects.filter(status__in=UNFINISHED_STATUSES).count()
        for model in (TrainingRun, PredictionJob)
    )
    if unfinished:
        failures["jobs not finished"] = unfinished
    # Artifacts: a worker killed inside its final commit leaves one behind; the reconciliation
    # deletes it once it is older than its grace (10 min). Swept here without the grace (no
    # training runs any more), then every file must belong to a version and the reverse.
    orphans_swept = model_artifacts_orphaned_delete(grace=timedelta(0))
    referenced = set(ModelVersion.objects.values_list("artifact", flat=True))
    try:
        _, files = default_storage.listdir(f"projects/{project_id}/models")
    except FileNotFoundError:
        files = []
    on_disk = {f"projects/{project_id}/models/{name}" for name in files}
    if on_disk - referenced:
        failures["artifacts no version points to"] = len(on_disk - referenced)
    if referenced - on_disk:
        failures["versions whose artifact is missing"] = len(referenced - on_disk)
    without = unpredicted(project_id)
    if without:
        failures["images without a prediction from the active version"] = without
    if record.unexpected:
        failures["5xx not explained by a fault"] = len(record.unexpected)
    if record.fault_errors:
        failures["faults that could not be injected or repaired"] = len(record.fault_errors)
    return {
        "failures": failures,
        "orphan artifacts swept at the end": orphans_swept,
        "images": Image.objects.filter(project_id=project_id).count(),
        "annotations": Annotation.objects.filter(image__project_id=project_id).count(),
        "training runs": dict(Counter(TrainingRun.objects.values_list("status", flat=True))),
        "prediction jobs": dict(Counter(PredictionJob.objects.values_list("status", flat=True))),
        "jobs that needed more than one run": sum(
            model.objects.filter(runs__gt=1).count() for model in (TrainingRun, PredictionJob)
        ),
        "model versions": ModelVersion.objects.filter(project_id=project_id).count(),
    }


# ----------------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--database", choices=["auto", "postgres", "sqlite"], default="auto")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--annotators", type=int, default=10)
    parser.add_argument("--backbone", default="efficientnet_lite0")
    parser.add_argument(
        "--fault-interval",
        type=float,
        default=None,
        help="mean seconds between faults (default: 10 faults an hour, 30 s min)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the logs and data")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    seconds = args.minutes * 60
    fault_interval = args.fault_interval or max(30.0, min(360.0, seconds / 10))
    retrain_pause = max(45.0, min(240.0, seconds / 8))

    platform = Platform(args)
    Platform.session_for = staticmethod(session_for)  # type: ignore[attr-defined]
    record = Record()
    started = time.monotonic()
    loads: list[float] = []
    try:
        platform.start()
        from labeling.ingest import IncomingFile, image_ingest
        from labeling.models import Role
        from labeling.services import annotations_create_bulk, membership_set, project_create

        owner = user_with_token("owner", staff=True)
        project = project_create(name="Soak", created_by=owner, classes=["coffee", "other"])
        all_photos = harness.photos(150 + 400)
        seed_photos, upload_photos = all_photos[:150], all_photos[150:]
        report = image_ingest(
            project=project, uploaded_by=owner,
            files=[IncomingFile(name=p.name, file=io.BytesIO(p.data)) for p in seed_photos],
        )  # fmt: skip
        label_of = {p.name: p.label for p in seed_photos}
        for label_class in project.classes.all():
            annotations_create_bulk(
                image_ids=[i.pk for i in report.created if label_of[i.original_name] ==
                           label_class.name],
                user=owner, label_class=label_class,
            )  # fmt: skip
        annotators = []
        for index in range(args.annotators):
            user = user_with_token(f"annotator{index}")
            membership_set(project=project, user=user, role=Role.ANNOTATOR)
            annotators.append(user)
        uploader = user_with_token("uploader")
        membership_set(project=project, user=uploader, role=Role.ANNOTATOR)
        platform.wait_ready()
        print(platform.describe())
        print(f"{args.minutes:g} min, seed {args.seed}, {args.annotators} annotators, a fault "
              f"every ~{fault_interval:.0f} s, a retrain every ~{retrain_pause:.0f} s; "
              f"load {harness.load_average()}", flush=True)  # fmt: skip

        stop = threading.Event()
        work_started = time.monotonic()  # the minutes count from here, not from the setup
        threads = [
            threading.Thread(
                target=annotator_loop,
                args=(platform, record, user, project.pk, stop, random.Random(rng.random())),
            )
            for user in annotators
        ]
        threads.append(threading.Thread(
            target=uploader_loop,
            args=(platform, record, uploader, project.pk, stop, random.Random(rng.random()),
                  upload_photos),
        ))  # fmt: skip
        threads.append(threading.Thread(
            target=owner_loop,
            args=(platform, record, owner, project.pk, stop, random.Random(rng.random()),
                  retrain_pause),
        ))  # fmt: skip
        threads.append(threading.Thread(
            target=occasional_loop,
            args=(platform, record, owner, project.pk, stop, random.Random(rng.random()),
                  seed_photos[0]),
        ))  # fmt: skip
        faults = threading.Thread(
            target=fault_loop,
            args=(platform, record, stop, random.Random(args.seed), fault_interval),
        )
        for thread in [*threads, faults]:
            thread.daemon = True  # Ctrl-C: the platform is stopped below, the threads with it
            thread.start()
        deadline = work_started + seconds
        while time.monotonic() < deadline:
            time.sleep(5)
            loads.append(os.getloadavg()[0])
        stop.set()
        print("Stopping the users and the faults; settling", flush=True)
        for thread in [*threads, faults]:
            thread.join(timeout=120)

        # Settle: every process up, then the jobs finish (the reconciliation re-sends lost
        # messages, settles jobs of dead workers), then every image predicted.
        everything_running(platform)
        settle_started = time.monotonic()
        from django.db import connections

        connections.close_all()
        # One more retrain once the faults are over: training works after all of them, and the
        # project has an active version even if every earlier run met a fault.
        final = final_training(platform, record, owner, project.pk)
        print(f"  final training: {final}", flush=True)
        try:
            harness.wait_for(
                lambda: jobs_settled() and unpredicted(project.pk) == 0,
                timeout=SETTLE_TIMEOUT_SECONDS, what="every job finished and image predicted",
                interval=2,
            )  # fmt: skip
        except (RuntimeError, TimeoutError) as error:
            print(f"Did not settle: {error}")
            connections.close_all()
        settle_seconds = time.monotonic() - settle_started
        results = checks(record, project.pk, {user.username for user in annotators})
    finally:
        platform.stop()

    print_report(
        record, results, args, time.monotonic() - started, settle_seconds, loads,
        getattr(platform, "server_errors", []),
    )  # fmt: skip
    return 1 if results["failures"] else 0


def session_for(user):
    import requests
    from rest_framework.authtoken.models import Token

    session = requests.Session()
    session.headers["Authorization"] = f"Token {Token.objects.get(user=user).key}"
    return session


def user_with_token(username: str, *, staff: bool = False):
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    model = get_user_model()
    if staff:
        user = model.objects.create_superuser(username, "", "soak-password")
    else:
        user = model.objects.create_user(username, "", "soak-password")
    Token.objects.get_or_create(user=user)
    return user


def print_report(
    record, results, args, total_seconds, settle_seconds, loads, server_errors: list[str]
) -> None:
    by_kind: dict[str, Counter] = defaultdict(Counter)
    for (kind, status), count in record.statuses.items():
        by_kind[kind][status] += count
    print()
    print(f"Soak: {args.minutes:g} min of work (seed {args.seed}), {total_seconds / 60:.1f} min "
          f"in all, settled in {settle_seconds:.0f} s; load average (1 min) mean "
          f"{sum(loads) / max(len(loads), 1):.1f}, max {max(loads or [0]):.1f} on "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    print(harness.table(
        ["request", "total", "answers by status"],
        [(kind, sum(c.values()), ", ".join(f"{s}: {n}" for s, n in sorted(c.items(), key=str)))
         for kind, c in sorted(by_kind.items())],
    ))  # fmt: skip
    print(f"faults injected: {sum(record.faults.values())} ({dict(record.faults)})")
    print(f"labels acknowledged: {len(record.labels)}; uploads acknowledged: "
          f"{len(record.uploaded)}; bad files refused: {record.bad_files_refused}; trainings: "
          f"{dict(record.trainings)}; activations: {record.activations}; ad-hoc predictions: "
          f"{dict(record.ad_hoc)}; exports: {record.exports}")  # fmt: skip
    for key, value in results.items():
        if key != "failures":
            print(f"{key}: {value}")
    for kind, status, _, text in record.unexpected[:10]:
        print(f"  unexpected {status} on {kind}: {text[:200]!r}")
    if record.unexpected or record.fault_errors:
        for kind, error in record.fault_errors[:10]:
            print(f"  fault {kind} failed: {error}")
        print(f"errors the processes logged ({len(server_errors)}; the last 15):")
        for line in server_errors[-15:]:
            print(f"  {line}")
    if results["failures"]:
        print(f"FAILED: {results['failures']}")
    else:
        print("All checks passed: nothing lost, nothing stuck, no unexplained 5xx.")


if __name__ == "__main__":
    raise SystemExit(main())
