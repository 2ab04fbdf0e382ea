"""What the benchmark scripts share: the platform started on throwaway data, the coffee-or-not
photos, and small measuring tools (percentiles, load average, process memory, a table).

`Stack` starts what a script needs, the way the run command does (scripts/run.py's own command
lines, so what is measured is what runs):

- a temporary folder for everything: MEDIA_ROOT, STATIC_ROOT, the SQLite database and logs;
- the database: a SQLite file in that folder, or, when DATABASE_URL names a PostgreSQL server,
  a new database `<name>_bench_<pid>` on it, dropped at the end, with persistent connections
  (CONN_MAX_AGE 60 and health checks, as in production, unless the URL has its own options);
- the broker: REDIS_URL when it is set and answers (mind that a worker of another platform on
  the same Redis database would take jobs too), else an embedded redis-server
  (scripts/broker.py) on a unix socket in the folder;
- real Celery workers (solo pool, the real backbone) and gunicorn, as subprocesses, each in
  its own process group with its output in a log file; every one of them is stopped on exit,
  also on Ctrl-C or an error.

The script's own process sets itself up on the same database with `labelplatform.settings.local`
(DEBUG off, as a deployment runs it) and uses the ORM and the services to create data.

Over 400 lines because it is the one place every benchmark starts the platform from; split, the
scripts would each import half of it.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPOSITORY = Path(__file__).resolve().parent.parent
if str(REPOSITORY) not in sys.path:
    sys.path.insert(0, str(REPOSITORY))

from tests.support import coffee_or_not  # noqa: E402  (the photos' folder, as the tests find it)

# COFFEE_OR_NOT_DIR, or ../shared/data/coffee-or-not beside the checkout; None when missing
# (the scripts then exit saying how to point at the photos).
DEFAULT_DATA = coffee_or_not.data_dir()
READY_TIMEOUT_SECONDS = 300.0
STOP_TIMEOUT_SECONDS = 20.0


# ----------------------------------------------------------------------------------------------
# Measuring
# ----------------------------------------------------------------------------------------------
def load_average() -> str:
    """The 1-minute load average and the CPU count: on a shared machine, the context of a
    figure."""
    return f"{os.getloadavg()[0]:.1f}/{os.cpu_count()} CPUs"


def job_moments(job) -> tuple[datetime, datetime, datetime]:
    """When a finished job (a TrainingRun or PredictionJob row) was created, started and
    finished; RuntimeError for one that never ran."""
    if job.started_at is None or job.finished_at is None:
        raise RuntimeError(f"{type(job).__name__} {job.pk} never ran ({job.status})")
    return job.created_at, job.started_at, job.finished_at


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear between closest ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


@dataclass(frozen=True)
class ProcessMemory:
    rss_mb: float
    peak_mb: float  # VmHWM: the highest RSS the process has had
    tensorflow_mapped: bool  # a libtensorflow* shared object is in its address space


def process_memory(pid: int) -> ProcessMemory:
    status = Path(f"/proc/{pid}/status").read_text()

    def kib(field: str) -> float:
        found = re.search(rf"^{field}:\s+(\d+) kB", status, re.MULTILINE)
        return int(found.group(1)) / 1024 if found else math.nan

    maps = Path(f"/proc/{pid}/maps").read_text()
    return ProcessMemory(kib("VmRSS"), kib("VmHWM"), "libtensorflow" in maps)


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A plain-text table, columns as wide as their widest cell."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def wait_for(condition: Callable[[], object], *, timeout: float, what: str, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


# ----------------------------------------------------------------------------------------------
# The photos
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Photo:
    name: str
    label: str  # its folder: "coffee" or "other"
    data: bytes


def photos(count: int, data_dir: Path | None = DEFAULT_DATA, *, skip: int = 0) -> list[Photo]:
    """`count` distinct photos from the class folders, classes taken in turn.

    The folder holds 817 .jpg photos; past them come variations of the same photos, re-encoded as
    JPEG, so each has a new sha256 and is a new image to the platform: first mirror images
    (enough for a 1,000-image project), then slight crops, mirrored or not (see _variant), as
    many rounds as `count` needs. `skip` leaves out the first photos of that order (e.g. ones
    already in a project).
    """
    data_dir = data_dir or coffee_or_not.data_dir_or_exit()
    folders = sorted(path for path in data_dir.iterdir() if path.is_dir())
    by_class = [sorted(folder.glob("*.jpg")) for folder in folders]
    if not any(by_class):
        sys.exit(f"No photos under {data_dir} (set COFFEE_OR_NOT_DIR or pass --data).")
    interleaved: list[Path] = []
    for index in range(max(len(files) for files in by_class)):
        interleaved += [files[index] for files in by_class if index < len(files)]
    chosen = []
    for index in range(skip, skip + count):
        path = interleaved[index % len(interleaved)]
        data = path.read_bytes()
        name = path.name
        variation = index // len(interleaved)
        if variation == 1:
            data, name = _variant(data, variation), f"mirrored-{path.name}"
        elif variation > 1:
            data, name = _variant(data, variation), f"variant{variation}-{path.name}"
        chosen.append(Photo(name=name, label=path.parent.name, data=data))
    return chosen


def _variant(data: bytes, variation: int) -> bytes:
    """Variation 1 is the mirror image (what the 1,000-image benchmarks have always used);
    then 4 more pixels cropped off each side per two variations, scaled back to the photo's
    size, mirrored every other one. Deterministic: the same variation gives the same bytes."""
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as opened:
        picture = opened.convert("RGB")
        margin = 4 * (variation // 2)
        if margin:
            width, height = picture.size
            box = (margin, margin, width - margin, height - margin)
            picture = picture.crop(box).resize((width, height), Image.Resampling.BICUBIC)
        if variation % 2:
            picture = ImageOps.mirror(picture)
        buffer = io.BytesIO()
        picture.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


# ----------------------------------------------------------------------------------------------
# Processes
# ----------------------------------------------------------------------------------------------
@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def check_alive(self) -> None:
        if self.popen.poll() is not None:
            raise RuntimeError(
                f"{self.name} exited with code {self.popen.returncode}:\n{self.log()[-4000:]}"
            )

    def stop(self) -> None:
        """SIGTERM to its whole process group (gunicorn's workers too), SIGKILL if it lingers."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(STOP_TIMEOUT_SECONDS)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)  # stragglers of the group, if any
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(5)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Stack:
    """The platform on throwaway data. Use as a context manager:

        with Stack(workers=("prediction",), web=True) as stack:
            stack.wait_ready()
            ...

    Entering sets up the database, the broker and Django in this process and starts the
    workers and the web server without waiting for them (setting up data meanwhile saves
    time); `wait_ready()` blocks until they serve. Leaving stops everything it started and
    deletes the folder and the database.
    """

    def __init__(
        self,
        *,
        workers: Sequence[str] = ("training", "prediction"),
        web: bool = False,
        web_workers: int | None = None,
        keep: bool = False,
    ) -> None:
        self.worker_queues = tuple(workers)
        self.want_web = web
        self.web_workers = web_workers  # None: as many as the run command starts
        self.keep = keep
        self.processes: dict[str, Process] = {}
        self.folder: Path | None = None
        self.port = 0
        self._drop_database: Callable[[], None] | None = None

    # -- setup ---------------------------------------------------------------------------------
    def __enter__(self) -> Stack:
        self.folder = Path(tempfile.mkdtemp(prefix="labelplatform-bench-"))
        try:
            self._environment()
            self._broker()
            self._django()
            for queue in self.worker_queues:
                self._start_worker(queue)
            if self.want_web:
                self._start_web()
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def _environment(self) -> None:
        assert self.folder is not None
        configured = os.environ.get("DATABASE_URL", "")
        if configured.startswith(("postgres://", "postgresql://", "pgsql://")):
            database_url = self._postgres_database(configured)
        else:
            database_url = f"sqlite:///{self.folder / 'bench.sqlite3'}"
        (self.folder / "media").mkdir()
        (self.folder / "static").mkdir()
        os.environ.update(
            DJANGO_SETTINGS_MODULE="labelplatform.settings.local",
            DEBUG="False",
            DATABASE_URL=database_url,
            MEDIA_ROOT=str(self.folder / "media"),
            STATIC_ROOT=str(self.folder / "static"),
            # The converted weights are kept between runs (var/weights, like the run command).
            CLASSIFIER_WEIGHTS_DIR=os.environ.get(
                "CLASSIFIER_WEIGHTS_DIR", str(REPOSITORY / "var" / "weights")
            ),
            PYTHONUNBUFFERED="1",
            TF_CPP_MIN_LOG_LEVEL="2",
        )
        os.environ.pop("CELERY_BROKER_URL", None)  # REDIS_URL, chosen below, is the broker

    def _postgres_database(self, url: str) -> str:
        import psycopg

        parts = urlsplit(url)
        name = f"{parts.path.lstrip('/') or 'labelplatform'}_bench_{os.getpid()}"
        admin_url = urlunsplit(parts._replace(path="/postgres"))
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{name}"')

        def drop() -> None:
            with psycopg.connect(admin_url, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        self._drop_database = drop
        # Persistent connections, as production.py configures them: without, every request and
        # every task opens a new connection (several ms each).
        query = parts.query or "conn_max_age=60&conn_health_checks=True"
        return urlunsplit(parts._replace(path=f"/{name}", query=query))

    def _django(self) -> None:
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)

    def _broker(self) -> None:
        from scripts.broker import EmbeddedRedis, redis_reachable

        configured = os.environ.get("REDIS_URL")
        if configured and redis_reachable(configured):
            self.broker_url = configured
            self.broker_description = "REDIS_URL"
        else:
            assert self.folder is not None
            embedded = EmbeddedRedis(self.folder / "redis", persistent=False)
            self._spawn("redis", embedded.command())
            embedded.wait_until_ready(self.processes["redis"].popen)
            self.broker_url = embedded.url
            self.broker_description = "embedded redis-server"
        os.environ["REDIS_URL"] = self.broker_url  # read by the settings, here and in children

    def _spawn(self, name: str, command: list[str]) -> Process:
        assert self.folder is not None
        log_path = self.folder / f"{name}.log"
        with log_path.open("ab") as log:
            popen = subprocess.Popen(
                command,
                cwd=REPOSITORY,
                env=dict(os.environ),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process = Process(name, popen, log_path)
        self.processes[name] = process
        return process

    def _service_command(self, name: str) -> list[str]:
        from scripts.run import services

        command = next(s.command for s in services(port=self.port) if s.name == name)
        return list(command)

    def _start_worker(self, queue: str) -> None:
        self._spawn(queue, self._service_command(queue))

    def _start_web(self) -> None:
        self.port = free_port()
        command = self._service_command("web")
        if self.web_workers is not None:
            command[command.index("--workers") + 1] = str(self.web_workers)
        self._spawn("web", command)

    def wait_ready(self) -> None:
        """Block until every worker has loaded its model and the web server answers."""
        started = time.monotonic()
        for queue in self.worker_queues:
            process = self.processes[queue]

            def ready(process=process) -> bool:
                process.check_alive()
                return " ready." in process.log()

            wait_for(ready, timeout=READY_TIMEOUT_SECONDS, what=f"the {queue} worker", interval=0.2)
        if self.want_web:
            import requests

            def answers() -> bool:
                self.processes["web"].check_alive()
                try:
                    return requests.get(f"{self.url}/accounts/login/", timeout=5).ok
                except requests.ConnectionError:
                    return False

            wait_for(answers, timeout=READY_TIMEOUT_SECONDS, what="gunicorn", interval=0.2)
        self.ready_seconds = time.monotonic() - started

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def describe(self) -> str:
        from django.db import connection

        return (
            f"database {connection.vendor}, broker {self.broker_description}, "
            f"workers {', '.join(self.worker_queues) or 'none'}"
            + (f", gunicorn on {self.url}" if self.want_web else "")
        )

    def worker_pid(self, queue: str) -> int:
        return self.processes[queue].pid

    def web_worker_pids(self) -> list[int]:
        """gunicorn's worker processes (children of its master)."""
        import psutil

        return [child.pid for child in psutil.Process(self.processes["web"].pid).children()]

    # -- teardown ------------------------------------------------------------------------------
    def __exit__(self, *exc_info) -> None:
        # Web and workers first, so nothing talks to the broker or the database any more.
        for name in [n for n in self.processes if n != "redis"]:
            self.processes[name].stop()
        if "redis" in self.processes:
            self.processes["redis"].stop()
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        keep = self.keep or exc_info[0] is not None
        if self._drop_database is not None:
            if keep:
                print(f"(database kept: {os.environ['DATABASE_URL']})", file=sys.stderr)
            else:
                self._drop_database()
        if self.folder is not None:
            if keep:
                print(f"(logs and data kept in {self.folder})", file=sys.stderr)
            else:
                shutil.rmtree(self.folder, ignore_errors=True)

    # -- data ----------------------------------------------------------------------------------
    def owner(self, username: str = "bench"):
        """A staff user (staff are owners of every project) with an API token."""
        from django.contrib.auth import get_user_model
        from rest_framework.authtoken.models import Token

        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            user = get_user_model().objects.create_superuser(username, "", "bench-password")
        Token.objects.get_or_create(user=user)
        return user

    def api(self, user):
        """A requests session to the web server, authenticated with the user's token."""
        import requests
        from rest_framework.authtoken.models import Token

        session = requests.Session()
        session.headers["Authorization"] = f"Token {Token.objects.get(user=user).key}"
        return session

    def browser_session(self, user):
        """A requests session logged in as the user (a session cookie), for the pages."""
        import requests
        from django.conf import settings
        from django.test import Client

        client = Client()
        client.force_login(user)
        session = requests.Session()
        session.cookies.set(
            settings.SESSION_COOKIE_NAME, client.cookies[settings.SESSION_COOKIE_NAME].value
        )
        return session


def project_with_photos(*, owner, name: str, photos_: Sequence[Photo], labeled: int = 0):
    """A project with classes coffee/other holding the photos (uploaded through image_ingest,
    splits chosen automatically); the first `labeled` of them labeled by their folder, as an
    annotator would (one annotation each)."""
    from labeling.ingest import IncomingFile, image_ingest
    from labeling.services import project_create

    project = project_create(name=name, created_by=owner, classes=["coffee", "other"])
    report = image_ingest(
        project=project,
        uploaded_by=owner,
        files=(IncomingFile(name=p.name, file=io.BytesIO(p.data)) for p in photos_),
    )
    if report.rejected or len(report.created) != len(photos_):
        raise RuntimeError(f"ingest stored {len(report.created)} of {len(photos_)}: {report}")
    images_label(project=project, user=owner, images=report.created[:labeled], photos_=photos_)
    return project, report.created


def images_label(*, project, user, images, photos_: Sequence[Photo]) -> None:
    """Label images with the class of the photo they were made from (same order as ingested)."""
    from labeling.services import annotations_create_bulk

    label_of = {photo.name: photo.label for photo in photos_}
    for label_class in project.classes.all():
        annotations_create_bulk(
            image_ids=[i.pk for i in images if label_of[i.original_name] == label_class.name],
            user=user,
            label_class=label_class,
        )


def training_run(api, stack: Stack, project, *, hyperparameters: dict | None = None) -> dict:
    """Retrain through the API and wait for the run to finish; returns the run as the API
    shows it, with "seconds" (request to finished, seen by the client) added."""
    started = time.perf_counter()
    response = api.post(
        f"{stack.url}/api/projects/{project.pk}/training-runs/",
        json={"hyperparameters": hyperparameters} if hyperparameters else {},
    )
    response.raise_for_status()
    run_id = response.json()["id"]
    while True:
        run = api.get(f"{stack.url}/api/training-runs/{run_id}/?wait=60").json()
        if run["status"] not in ("queued", "running"):
            break
        for name in stack.worker_queues:
            stack.processes[name].check_alive()
    run["seconds"] = time.perf_counter() - started
    if run["status"] != "succeeded":
        raise RuntimeError(f"training run {run_id} {run['status']}: {run['error']}")
    return run


def project_trained(
    stack: Stack, *, name: str, count: int, unlabeled: int = 0, data: Path | None = DEFAULT_DATA
):
    """A project of `count` labeled photos (and `unlabeled` more) with a trained, active
    version whose background re-prediction has finished: (project, API session of its owner,
    the training run). Waits for the stack to be ready (the upload runs while the workers
    load). The photos are the first `count + unlabeled` of `photos()`."""
    owner = stack.owner()
    project, _ = project_with_photos(
        owner=owner, name=name, photos_=photos(count + unlabeled, data), labeled=count
    )
    stack.wait_ready()
    print(stack.describe())
    api = stack.api(owner)
    run = training_run(api, stack, project)
    prediction_jobs_wait(project=project)
    return project, api, run


def ad_hoc_predict(stack: Stack, api, project, photo: Photo) -> dict:
    """One ad-hoc prediction through the API, upload to result:

        POST /api/projects/{id}/predictions/  (multipart, one file)  -> 202 {"id"}
        GET  /api/prediction-jobs/{id}/?wait=30                      -> the result

    Returns the job id and the client's clock readings (time.time()): started, posted,
    answered."""
    started = time.time()
    response = api.post(
        f"{stack.url}/api/projects/{project.pk}/predictions/",
        files={"files": (photo.name, photo.data, "image/jpeg")},
    )
    response.raise_for_status()
    posted = time.time()
    job = api.get(f"{stack.url}/api/prediction-jobs/{response.json()['id']}/?wait=30").json()
    answered = time.time()
    if job["status"] != "succeeded" or len(job["results"]) != 1:
        raise RuntimeError(f"prediction job {job['id']}: {job['status']} {job['error']}")
    return {"id": job["id"], "started": started, "posted": posted, "answered": answered}


def prediction_jobs_wait(*, project, timeout: float = 1800) -> None:
    """Until no prediction job of the project is queued or running."""
    from classifier.models import PredictionJob

    _jobs_wait(PredictionJob, project=project, timeout=timeout, what="prediction jobs")


def health_checks_wait(*, project, timeout: float = 1800) -> None:
    """Until no health check of the project (the one after each training) is queued or running."""
    from classifier.models import HealthCheck

    _jobs_wait(HealthCheck, project=project, timeout=timeout, what="health checks")


def _jobs_wait(model, *, project, timeout: float, what: str) -> None:
    from classifier.models import UNFINISHED_STATUSES

    wait_for(
        lambda: not model.objects.filter(project=project, status__in=UNFINISHED_STATUSES).exists(),
        timeout=timeout,
        what=f"the project's {what}",
        interval=0.1,
    )


# ----------------------------------------------------------------------------------------------
# The same model in this process, for the raw figures
# ----------------------------------------------------------------------------------------------
class InProcessModel:
    """A model version's backbone and head loaded in this process (TensorFlow here too)."""

    def __init__(self, model_version) -> None:
        from django.conf import settings

        from classifier.ml import TrainedHead, load_backbone

        started = time.perf_counter()
        self.backbone = load_backbone(
            model_version.backbone,
            weights_dir=settings.CLASSIFIER_WEIGHTS_DIR,
            max_batch_size=settings.CLASSIFIER_INFERENCE_BATCH_SIZE,
        )
        with model_version.artifact.open("rb") as artifact:
            self.head = TrainedHead.from_bytes(artifact.read())
        self.load_seconds = time.perf_counter() - started

    def predict(self, images: Sequence[bytes]):
        """Class probabilities of encoded images: decode, embed in capped batches, head."""
        return self.head.predict_proba(self.backbone.embed(images))
