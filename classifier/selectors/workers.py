"""The workers online, for the Jobs pages' panel: one broadcast to the workers with a short
timeout, and the running jobs' heartbeats for the workers too busy to answer."""

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import F, Q
from django.utils import timezone

from classifier import broker
from classifier.models import JobStatus, ModelVersion, PredictionJob, TrainingRun
from labeling.models import Project
from labeling.selectors import projects_visible_to

logger = logging.getLogger(__name__)


def workers_status(*, timeout: float = 1.0) -> list[dict]:
    """Each online worker: {"hostname", "queues", "pool", "pid", "backbones" {name: load
    seconds}, "model_versions" [ids]}, by hostname.

    One broadcast of the workers' classifier_status remote-control command
    (classifier.worker), through Celery's public Control.broadcast with reply=True: each
    worker that answers within `timeout` sends one {hostname: status}; the others are not
    listed. An unreachable broker gives [], at once when it has just timed out
    (classifier.broker).
    """
    from labelplatform.celery import app

    if broker.broker_unresponsive():
        return []
    try:
        with broker.broker_call():
            answers = app.control.broadcast("classifier_status", reply=True, timeout=timeout)
    except Exception as exc:
        logger.warning("Could not ask the workers for their status: %s", exc)
        return []
    workers = {
        hostname: reply
        for answer in answers or []
        for hostname, reply in answer.items()
        # A worker without the command answers {"error": ...}: not one of ours to list.
        if isinstance(reply, dict) and "queues" in reply
    }
    return [{"hostname": hostname, **workers[hostname]} for hostname in sorted(workers)]


class _HiddenJob:
    """A running job of a project the user does not see: only its worker is told."""

    hidden = True

    def __init__(self, worker: str):
        self.worker = worker


def workers_with_versions(
    *, user: User, timeout: float, project: Project | None = None
) -> list[dict]:
    """The workers online for the Jobs page: each answering worker (workers_status) with its
    loaded model versions as rows the user may see, plus workers busy with a job.

    A worker running a job on the solo pool cannot answer the broadcast until the job ends,
    so a worker named on a running job whose heartbeat is fresh is listed too, as busy; so is
    one still stopping a job cancelled under it (the job's status is "cancelled").
    Each: {"hostname", "queues", "backbones", "versions" (ModelVersion rows of projects the
    user sees), "other_versions" (how many more it holds), "busy_with" (running jobs; of a
    project the user does not see, an object with `hidden` true and no details),
    "answered" (bool)}. When nothing answers and nothing runs: [].
    """
    answered = {worker["hostname"]: worker for worker in workers_status(timeout=timeout)}
    fresh = timezone.now() - timedelta(seconds=settings.CLASSIFIER_JOB_HEARTBEAT_TIMEOUT)
    # Running, or cancelled while running and the worker not yet stopped: no sign of life
    # since the cancel (classifier.worker.jobs.job_let_go), but recent ones before it.
    running = Q(status=JobStatus.RUNNING) | Q(
        status=JobStatus.CANCELLED, heartbeat_at__lt=F("finished_at")
    )
    on_worker = running & Q(heartbeat_at__gte=fresh) & ~Q(worker="")
    busy: list = [
        *TrainingRun.objects.filter(on_worker).select_related("project"),
        *PredictionJob.objects.filter(on_worker).select_related("project", "model_version"),
    ]
    version_ids = {pk for worker in answered.values() for pk in worker.get("model_versions", [])}
    versions = {
        version.pk: version
        for version in ModelVersion.objects.filter(pk__in=version_ids).select_related("project")
    }
    if not user.is_staff and (versions or busy):
        # Other projects' names stay hidden: those versions and jobs are only counted.
        seen = set(projects_visible_to(user=user).values_list("pk", flat=True))
        versions = {pk: v for pk, v in versions.items() if v.project_id in seen}
        busy = [job for job in busy if job.project_id in seen] + [
            _HiddenJob(job.worker) for job in busy if job.project_id not in seen
        ]

    workers: dict[str, dict] = {}
    for hostname, reply in answered.items():
        held = reply.get("model_versions", [])
        workers[hostname] = {
            "hostname": hostname,
            "queues": reply.get("queues", []),
            "backbones": reply.get("backbones", {}),
            "versions": sorted(
                (versions[pk] for pk in held if pk in versions),
                key=lambda version: (
                    version.project_id != getattr(project, "pk", None),
                    version.project.name,
                    -version.version,
                ),
            ),
            "other_versions": sum(1 for pk in held if pk not in versions),
            "busy_with": [],
            "answered": True,
        }
    for job in busy:
        worker = workers.setdefault(
            job.worker,
            {
                "hostname": job.worker,
                "queues": [],
                "backbones": {},
                "versions": [],
                "other_versions": 0,
                "busy_with": [],
                "answered": False,
            },
        )
        worker["busy_with"].append(job)
    return sorted(workers.values(), key=lambda worker: worker["hostname"])
