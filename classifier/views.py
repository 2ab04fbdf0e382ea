"""The classifier's web pages: a project's Models and Jobs pages, the Jobs page across
projects, and the buttons that retrain, activate and cancel.

Views stay thin: they check the user's role (labeling.permissions), write through
classifier.services and read through classifier.selectors. As on the labeling pages, a
project a user does not belong to does not exist for them (404) and a member whose role is
too low gets 403. Nothing here imports TensorFlow: the workers do the work.
"""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_POST

from classifier import selectors, services
from classifier.models import JobStatus, ModelExport, ModelVersion, TrainingRun
from labeling.models import Project, Role
from labeling.permissions import project_for_user, role_allows, user_authenticated
from labelplatform.navigation import redirect_back

# --- Models page -------------------------------------------------------------------------------


@require_GET
def project_models(request: HttpRequest, pk: int) -> HttpResponse:
    """Every version with its metrics; one version (?version=N, else the active one, else
    the newest) in detail with its confusion matrix and training curves."""
    project, role = project_for_user(user=request.user, pk=pk)
    versions = list(selectors.model_versions_of(project=project))
    shown = selectors.model_version_shown(versions=versions, number=request.GET.get("version"))
    classes = list(project.classes.all())
    return render(
        request,
        "classifier/project_models.html",
        {
            "project": project,
            "role": role,
            "can_manage": role_allows(role, Role.OWNER),
            "versions": versions,
            "active_version": next((v for v in versions if v.status == "active"), None),
            "shown": shown,
            "report": selectors.model_version_report(version=shown, classes=classes)
            if shown
            else None,
            "calibration": selectors.model_version_calibration_report(version=shown)
            if shown
            else None,
            "unsure_threshold": selectors.unsure_threshold_of(project=project, version=shown),
            "unfinished_run": selectors.training_run_unfinished(project=project),
        },
    )


@require_POST
def model_version_activate(request: HttpRequest, pk: int) -> HttpResponse:
    """Make a version its project's active one (also the rollback). Owners and staff."""
    version = get_object_or_404(ModelVersion.objects.select_related("project"), pk=pk)
    project, _ = project_for_user(user=request.user, pk=version.project_id, needed=Role.OWNER)
    user = user_authenticated(request.user)
    status_before = version.status
    version = services.model_version_activate(model_version=version, activated_by=user)
    messages.success(
        request,
        selectors.model_version_activation_message(
            model_version=version, status_before=status_before
        ),
    )
    return redirect_back(request, reverse("classifier:project-models", args=[project.pk]))


EXPORT_CONTENT_TYPES = {"model": "application/octet-stream", "bundle": "application/zip"}


@require_GET
def model_export_file(request: HttpRequest, pk: int, part: str) -> FileResponse:
    """An export's model file ("model") or bundle ("bundle"), as an attachment, to members of
    the version's project (the API token works too: under MEDIA_URL)."""
    export = get_object_or_404(ModelExport.objects.select_related("model_version"), pk=pk)
    project_for_user(user=request.user, pk=export.model_version.project_id)
    if part not in EXPORT_CONTENT_TYPES or export.status != JobStatus.SUCCEEDED:
        raise Http404("No such file.")
    field = export.file if part == "model" else export.bundle
    try:
        handle = field.open("rb")
    except FileNotFoundError:
        raise Http404("The stored file is missing.") from None
    version = export.model_version
    suffix = field.name.rsplit(".", 1)[-1]
    name = f"{slugify(version.project.name) or 'model'}-v{version.version}"
    name += f"-{export.format}.{suffix}" if part == "model" else f"-{export.format}-bundle.zip"
    return FileResponse(
        handle, as_attachment=True, filename=name, content_type=EXPORT_CONTENT_TYPES[part]
    )


@require_POST
def model_version_pin(request: HttpRequest, pk: int) -> HttpResponse:
    """Pin a version (it becomes and stays active) or unpin it (`pinned` = "0"). Owners."""
    version = get_object_or_404(ModelVersion.objects.select_related("project"), pk=pk)
    project, _ = project_for_user(user=request.user, pk=version.project_id, needed=Role.OWNER)
    user = user_authenticated(request.user)
    pinned = request.POST.get("pinned", "1") != "0"
    services.model_version_pin(model_version=version, pinned=pinned, pinned_by=user)
    messages.success(
        request,
        f"Version {version.version} is pinned: training runs no longer replace it."
        if pinned
        else f"Version {version.version} is unpinned: a better new version replaces it.",
    )
    return redirect_back(request, reverse("classifier:project-models", args=[project.pk]))


@require_POST
def project_retrain(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask for a retraining (owners and staff), then watch it on the Jobs page. When it
    cannot start, back to the page the button was on (`next`) with the reason."""
    project, _ = project_for_user(user=request.user, pk=pk, needed=Role.OWNER)
    jobs_url = reverse("classifier:project-jobs", args=[project.pk])
    try:
        user = user_authenticated(request.user)
        run, created = services.training_run_start(project=project, requested_by=user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect_back(request, reverse("labeling:project-dashboard", args=[project.pk]))
    # The user lands on the Jobs page, where the run's row is: no link needed.
    if created:
        messages.success(request, f"Retraining queued as run #{run.pk}; follow it below.")
    else:
        messages.info(
            request,
            f"A retraining is already {run.get_status_display().lower()} (run #{run.pk}); "
            "follow it below.",
        )
    run.refresh_from_db(fields=["dispatch_error"])  # written after commit, when sending failed
    if run.dispatch_error:
        messages.warning(request, run.dispatch_error)
    return HttpResponseRedirect(jobs_url)


@require_POST
def training_run_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(TrainingRun, pk=pk)
    project, _ = project_for_user(user=request.user, pk=run.project_id, needed=Role.OWNER)
    was_running = run.status == JobStatus.RUNNING
    run = services.training_run_cancel(run=run)
    message = f"Training run {run.pk} is {run.get_status_display().lower()}."
    if was_running and run.status == JobStatus.CANCELLED:
        message += " Its worker stops at its next step; the run's row says when it has."
    messages.info(request, message)
    return redirect_back(request, reverse("classifier:project-jobs", args=[project.pk]))


# --- Ad-hoc predictions -----------------------------------------------------------------------


@require_GET
def project_predict(request: HttpRequest, pk: int) -> HttpResponse:
    """Drop photos, see the active version's prediction of each; nothing is stored as
    training data. The page's script sends the files to the API's prediction endpoint and
    follows the job there, so a worker predicts them exactly as for an API client (this
    process never loads a model). Annotators and owners, like that endpoint."""
    project, role = project_for_user(user=request.user, pk=pk, needed=Role.ANNOTATOR)
    return render(
        request,
        "classifier/project_predict.html",
        {
            "project": project,
            "role": role,
            "class_colors": {c.name: c.color for c in project.classes.all()},
            "active_version": selectors.model_version_active(project=project),
            "max_megabytes": settings.IMAGE_MAX_BYTES // (1024 * 1024),
            "create_url": reverse(
                "api:classifier:prediction-job-create-from-files", args=[project.pk]
            ),
            "job_url": reverse("api:classifier:prediction-job-detail", args=[0]),
        },
    )


# --- Jobs pages --------------------------------------------------------------------------------


def _jobs_context(request: HttpRequest, project: Project | None, role: str | None) -> dict:
    jobs = selectors.jobs_for_page(user=user_authenticated(request.user), project=project)
    return {
        "project": project,
        "role": role,
        "can_manage": role_allows(role, Role.OWNER) if project else False,
        **jobs,
        "fragment_url": reverse("classifier:project-jobs-fragment", args=[project.pk])
        if project
        else reverse("classifier:jobs-fragment"),
        "workers_url": reverse("classifier:project-workers", args=[project.pk])
        if project
        else reverse("classifier:workers"),
    }


@require_GET
def project_jobs(request: HttpRequest, pk: int) -> HttpResponse:
    """The project's training runs and prediction jobs, live while any is unfinished, and the
    workers online. The workers panel loads separately, so the page never waits for them."""
    project, role = project_for_user(user=request.user, pk=pk)
    return render(request, "classifier/jobs.html", _jobs_context(request, project, role))


@require_GET
def project_jobs_fragment(request: HttpRequest, pk: int) -> HttpResponse:
    """The job lists alone, for the page's polling (htmx)."""
    project, role = project_for_user(user=request.user, pk=pk)
    return render(request, "classifier/_jobs.html", _jobs_context(request, project, role))


@require_GET
def jobs(request: HttpRequest) -> HttpResponse:
    """The Jobs page across every project the user sees (all projects for staff)."""
    return render(request, "classifier/jobs.html", _jobs_context(request, None, None))


@require_GET
def jobs_fragment(request: HttpRequest) -> HttpResponse:
    return render(request, "classifier/_jobs.html", _jobs_context(request, None, None))


# How long the workers panel waits for workers to answer. An idle worker answers within
# milliseconds (a busy one is known from its job's heartbeat instead), so a short wait loses
# nothing and keeps the panel quick when no worker or no broker is there.
WORKERS_REPLY_TIMEOUT = 0.5


def _workers_panel(request: HttpRequest, project: Project | None) -> HttpResponse:
    workers = selectors.workers_with_versions(
        user=user_authenticated(request.user), timeout=WORKERS_REPLY_TIMEOUT, project=project
    )
    return render(
        request,
        "classifier/_workers.html",
        {
            "workers": workers,
            "project": project,
            "workers_url": reverse("classifier:project-workers", args=[project.pk])
            if project
            else reverse("classifier:workers"),
        },
    )


@require_GET
def project_workers(request: HttpRequest, pk: int) -> HttpResponse:
    project, _ = project_for_user(user=request.user, pk=pk)
    return _workers_panel(request, project)


@require_GET
def workers(request: HttpRequest) -> HttpResponse:
    return _workers_panel(request, None)
