"""Training runs and prediction jobs as the Jobs pages and the API read them, and the API's
wait for a job to finish (job_wait)."""

import time
from datetime import timedelta
from typing import TypeVar

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.utils import timezone

from classifier.models import (
    UNFINISHED_STATUSES,
    HealthCheck,
    Job,
    JobStatus,
    PredictionJob,
    TrainingRun,
)
from labeling.models import Project
from labeling.selectors import projects_visible_to

# Any kind of job row: job_wait gives back the kind it was given.
_JobT = TypeVar("_JobT", bound=Job)

# The longest a client may ask a job GET to wait (?wait=), in seconds; see job_wait for what a
# wait costs the web server.
WAIT_MAX_SECONDS = 60


def job_worker_stopping(job: Job) -> bool:
    """A job cancelled while it ran, whose worker has not stopped yet: it stops at its next
    progress write, which tells it about the cancel; its last heartbeat (job_let_go) then
    comes after the cancel. A worker silent for longer than the heartbeat timeout is not
    waited for: it is gone, or it has stopped."""
    if job.status != JobStatus.CANCELLED or job.started_at is None or job.heartbeat_at is None:
        return False
    fresh = timezone.now() - timedelta(seconds=settings.CLASSIFIER_JOB_HEARTBEAT_TIMEOUT)
    return job.finished_at is not None and fresh <= job.heartbeat_at < job.finished_at


def training_run_unfinished(*, project: Project) -> TrainingRun | None:
    """The queued or running training of the project, if any (at most one exists)."""
    return TrainingRun.objects.filter(project=project, status__in=UNFINISHED_STATUSES).first()


def job_wait(*, job: _JobT, seconds: float) -> _JobT:
    """Return the job once it has finished, or after `seconds`, whichever comes first.

    What bounds it: `seconds`, capped here at WAIT_MAX_SECONDS (60 s) whatever the caller
    passes (the API also caps ?wait= before calling), and nothing else: a job that never
    finishes costs the full wait, never more. gunicorn's WEB_TIMEOUT (120 s by default) is
    above the cap, so a waiting request is never mistaken for a hung worker.

    What it costs: the request's gunicorn thread, and its database connection, for the whole
    wait. The web server has WEB_CONCURRENCY x WEB_THREADS of them (2 x 4 = 8 by default,
    labelplatform/gunicorn_conf.py), so eight clients waiting at once hold every thread and
    every other page and API call queues behind them until a job finishes or a wait runs
    out. The database sees one primary-key read of the status per poll: every 5 ms for the
    first two seconds, so a quick prediction is answered within about 5 ms of finishing (at
    10 ms this wait was a tenth of an ad-hoc prediction's overhead), then less and less
    often, up to every 250 ms: about 620 reads for a full 60 s wait.
    """
    started = time.monotonic()
    deadline = started + max(0.0, min(float(seconds), WAIT_MAX_SECONDS))
    model = type(job)
    interval = 0.005
    while True:
        status = model._default_manager.filter(pk=job.pk).values_list("status", flat=True).first()
        now = time.monotonic()
        if status is None or status not in UNFINISHED_STATUSES or now >= deadline:
            break
        time.sleep(min(interval, deadline - now))
        if now - started > 2:
            interval = min(interval * 1.5, 0.25)
    job.refresh_from_db()
    return job


# How many finished jobs of each kind the Jobs pages list (unfinished ones are always listed).
JOBS_FINISHED_SHOWN = 20


def _jobs_listed(jobs: QuerySet) -> list:
    """Unfinished jobs (all of them), then the newest finished ones.

    Two reads: a job that finishes between them is in both, and is listed once, as the first
    read saw it (the page's next refresh shows it finished)."""
    unfinished = list(jobs.filter(status__in=UNFINISHED_STATUSES))
    listed = {job.pk for job in unfinished}
    finished = jobs.exclude(status__in=UNFINISHED_STATUSES)[:JOBS_FINISHED_SHOWN]
    return unfinished + [job for job in finished if job.pk not in listed]


def jobs_for_page(*, user: User, project: Project | None = None) -> dict:
    """What the Jobs page lists: {"training_runs", "prediction_jobs", "health_checks",
    "active"}, for one project or for every project the user sees. "active" says whether any
    listed job is queued or running, or cancelled with its worker still stopping (the page
    polls quickly while it is). Six queries."""
    if project is not None:
        runs = TrainingRun.objects.filter(project=project)
        predictions = PredictionJob.objects.filter(project=project)
        checks = HealthCheck.objects.filter(project=project)
    else:
        visible = projects_visible_to(user=user)
        runs = TrainingRun.objects.filter(project__in=visible)
        predictions = PredictionJob.objects.filter(project__in=visible)
        checks = HealthCheck.objects.filter(project__in=visible)
    training_runs = _jobs_listed(
        runs.select_related("project", "model_version", "requested_by").order_by(
            "-created_at", "-pk"
        )
    )
    prediction_jobs = _jobs_listed(
        predictions.select_related("project", "model_version", "requested_by").order_by(
            "-created_at", "-pk"
        )
    )
    health_checks = _jobs_listed(
        checks.select_related("project", "requested_by").order_by("-created_at", "-pk")
    )
    return {
        "training_runs": training_runs,
        "prediction_jobs": prediction_jobs,
        "health_checks": health_checks,
        "active": any(
            not job.is_finished or job_worker_stopping(job)
            for job in [*training_runs, *prediction_jobs, *health_checks]
        ),
    }
