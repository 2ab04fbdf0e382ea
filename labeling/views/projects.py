"""Home, a new project, a project's dashboard, its members and its export."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from labeling import export, services
from labeling.forms import (
    LabelClassEditFormSet,
    LabelClassFormSet,
    MemberAddForm,
    MemberRoleForm,
    ProjectDeleteForm,
    ProjectForm,
    ProjectSettingsForm,
    label_class_formset_initial,
    label_class_formset_initial_of,
)
from labeling.models import Membership, Project, Role
from labeling.permissions import AuthenticatedHttpRequest, project_for_user, role_allows
from labeling.selectors import (
    label_class_usage,
    project_conflicts,
    project_count_table,
    project_member_contributions,
    project_recent_activity,
    projects_with_counts_visible_to,
)


@require_GET
def home(request: AuthenticatedHttpRequest) -> HttpResponse:
    projects = projects_with_counts_visible_to(user=request.user)
    return render(request, "labeling/home.html", {"projects": projects})


@require_http_methods(["GET", "POST"])
def project_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    data = request.POST if request.method == "POST" else None
    form = ProjectForm(data)
    classes = LabelClassFormSet(
        data, prefix="classes", initial=None if data else label_class_formset_initial()
    )
    if data is not None and form.is_valid() and classes.is_valid():
        try:
            project = services.project_create(
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                created_by=request.user,
                classes=classes.class_specs(),
                split_ratios=form.split_ratios,
                annotations_per_image=form.cleaned_data["annotations_per_image"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Project “{project.name}” created. Upload some images.")
            return redirect("labeling:project-upload", pk=project.pk)
    return render(request, "labeling/project_form.html", {"form": form, "classes": classes})


@require_GET
def project_dashboard(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    project, role = project_for_user(user=request.user, pk=pk)
    classes = list(project.classes.all())
    context = {
        "project": project,
        "role": role,
        "classes": classes,
        "can_annotate": role_allows(role, Role.ANNOTATOR),
        "can_manage": role_allows(role, Role.OWNER),
        "table": project_count_table(project=project, classes=classes),
        "members": project_member_contributions(project=project),
        "activity": project_recent_activity(project=project),
    }
    if context["can_manage"]:
        conflicts = project_conflicts(project=project)
        context.update(
            conflicts=conflicts[:24],
            roles=Role.choices,
            export_formats=EXPORT_CHOICES,
        )
    return render(request, "labeling/project_dashboard.html", context)


# --- Settings (owners) ------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def project_settings(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Name, description, classes, split ratios, annotations per image and the other
    settings (ProjectSettingsForm.OTHER_SETTINGS) in one form; deleting is a form of its own."""
    project, _ = project_for_user(user=request.user, pk=pk, needed=Role.OWNER)
    data = request.POST if request.method == "POST" else None
    form = ProjectSettingsForm(data, project=project)
    classes = LabelClassEditFormSet(
        data, prefix="classes", initial=None if data else label_class_formset_initial_of(project)
    )
    if data is not None and form.is_valid() and classes.is_valid():
        try:
            with transaction.atomic():  # the settings and the classes, or neither
                services.project_update(
                    project=project,
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                    split_ratios=form.split_ratios,
                    annotations_per_image=form.cleaned_data["annotations_per_image"],
                    other_settings=form.other_settings,
                )
                services.label_classes_update(project=project, classes=classes.class_specs())
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Settings saved.")
            return redirect("labeling:project-settings", pk=project.pk)
    usage = label_class_usage(project=project)
    for class_form in classes:
        class_id = class_form["id"].value()
        class_form.uses = usage.get(int(class_id), 0) if class_id else 0
    context = {
        "project": project,
        "form": form,
        "classes": classes,
        "delete_form": ProjectDeleteForm(project=project),
    }
    return render(request, "labeling/project_form.html", context)


@require_POST
def project_delete(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    project, _ = project_for_user(user=request.user, pk=pk, needed=Role.OWNER)
    delete_form = ProjectDeleteForm(request.POST, project=project)
    if not delete_form.is_valid():
        messages.error(request, " ".join(map(str, delete_form.errors["confirm_name"])))
        return redirect(reverse("labeling:project-settings", args=[project.pk]) + "#delete")
    name = project.name
    services.project_delete(project=project)
    messages.success(request, f"Project “{name}” and everything in it were deleted.")
    return redirect("labeling:home")


# --- Members (owners) --------------------------------------------------------------------------


def _members_url(project: Project) -> str:
    return reverse("labeling:project-dashboard", args=[project.pk]) + "#members"


@require_POST
def project_member_add(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    project, _ = project_for_user(user=request.user, pk=pk, needed=Role.OWNER)
    form = MemberAddForm(request.POST)
    if form.is_valid():
        user, role = form.cleaned_data["username"], form.cleaned_data["role"]
        try:
            services.membership_set(project=project, user=user, role=role)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"{user.get_username()} is now {Role(role).label.lower()}.")
    else:
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
    return redirect(_members_url(project))


@require_POST
def project_member_role(request: AuthenticatedHttpRequest, pk: int, user_id: int) -> HttpResponse:
    project, _ = project_for_user(user=request.user, pk=pk, needed=Role.OWNER)
    membership = get_object_or_404(
        Membership.objects.select_related("user"), project=project, user_id=user_id
    )
    form = MemberRoleForm(request.POST)
    if form.is_valid():
        try:
            services.membership_set(
                project=project, user=membership.user, role=form.cleaned_data["role"]
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"{membership.user.get_username()}'s role changed.")
    return redirect(_members_url(project))


@require_POST
def project_member_remove(request: AuthenticatedHttpRequest, pk: int, user_id: int) -> HttpResponse:
    project, _ = project_for_user(user=request.user, pk=pk, needed=Role.OWNER)
    membership = get_object_or_404(
        Membership.objects.select_related("user"), project=project, user_id=user_id
    )
    try:
        services.membership_remove(project=project, user=membership.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect(_members_url(project))
    messages.success(request, f"{membership.user.get_username()} was removed from the project.")
    if membership.user == request.user and not request.user.is_staff:
        return redirect("labeling:home")
    return redirect(_members_url(project))


# --- Export (owners) -------------------------------------------------------------------------

EXPORT_CHOICES = [
    ("zip", "Images (ImageFolder zip)", "file-earmark-zip"),
    ("csv", "Labels (CSV)", "filetype-csv"),
    ("json", "Labels (JSON)", "filetype-json"),
]


@require_GET
def project_export(
    request: AuthenticatedHttpRequest, pk: int, format: str
) -> StreamingHttpResponse:
    """The project's dataset as a download, streamed: no export waits to be built in memory
    or times out the request."""
    project, _ = project_for_user(user=request.user, pk=pk, needed=Role.OWNER)
    if format not in export.EXPORT_FORMATS:
        raise Http404("No such export format.")
    stream = export.project_export(project=project, format=format)
    response = StreamingHttpResponse(
        export.chunks_started(stream.chunks), content_type=stream.content_type
    )
    response["Content-Disposition"] = f'attachment; filename="{stream.filename}"'
    patch_cache_control(response, private=True, no_store=True)
    return response
