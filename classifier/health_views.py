"""The data-health pages: a project's health page, the owners' review queue of suspected label
errors, and the buttons that start a check, fix leaks and answer a suspect.

Kept beside classifier/views.py rather than in it: one subsystem, one module. The same rules
as there: thin views over classifier.services and classifier.selectors; a project a user
does not belong to is a 404, a role too low a 403.
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from classifier import selectors, services
from classifier.models import DataIssue, DataIssueKind
from labeling.models import LabelClass, Role, Split
from labeling.permissions import project_for_user, role_allows, user_authenticated
from labelplatform.navigation import redirect_back


@require_GET
def project_health(request: HttpRequest, pk: int) -> HttpResponse:
    """Class balance per split, images per split against the ratios, leaks, near-duplicate
    groups, suspected label errors, unlabeled and conflicted images, low-quality pictures;
    every number links to the gallery filtered to it."""
    project, role = project_for_user(user=request.user, pk=pk)
    health = selectors.project_health(project=project)
    chart = {
        "splits": [row["label"] for row in health["splits"]],
        "classes": [
            {
                "name": label_class.name,
                "color": label_class.color,
                "counts": [row["classes"][label_class.name] for row in health["splits"]],
            }
            for label_class in health["classes"]
        ],
    }
    return render(
        request,
        "classifier/project_health.html",
        {
            "project": project,
            "role": role,
            "can_manage": role_allows(role, Role.OWNER),
            "chart": chart,
            "kinds": DataIssueKind,
            **health,
        },
    )


@require_POST
def project_health_check(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask for a health check (owners); back to the page the button was on."""
    project, _ = project_for_user(user=request.user, pk=pk, needed=Role.OWNER)
    check, created = services.health_check_start(
        project=project, requested_by=user_authenticated(request.user)
    )
    if created:
        messages.success(request, f"Health check #{check.pk} queued; this page shows its results.")
    else:
        messages.info(request, f"A health check is already {check.get_status_display().lower()}.")
    return redirect_back(request, reverse("classifier:project-health", args=[project.pk]))


class LeakFixForm(forms.Form):
    split = forms.ChoiceField(choices=Split.choices, initial=Split.TRAIN, required=False)


@require_POST
def project_split_leaks_fix(request: HttpRequest, pk: int) -> HttpResponse:
    """Move every leaked near-duplicate group into one split (owners)."""
    project, _ = project_for_user(user=request.user, pk=pk, needed=Role.OWNER)
    form = LeakFixForm(request.POST)
    preferred = (form.cleaned_data.get("split") if form.is_valid() else "") or Split.TRAIN
    moved = services.split_leaks_fix(project=project, preferred=preferred)
    messages.success(
        request,
        f"{moved} image{'s' if moved != 1 else ''} moved: each leaked group now sits in one split.",
    )
    return redirect_back(request, reverse("classifier:project-health", args=[project.pk]))


@require_GET
def project_label_errors(request: HttpRequest, pk: int) -> HttpResponse:
    """The owners' review queue: the suspected label errors, the model's surest first; the
    first one as a card to answer with one key."""
    project, role = project_for_user(user=request.user, pk=pk, needed=Role.OWNER)
    queue = selectors.label_error_queue(project=project)
    return render(
        request,
        "classifier/label_errors.html",
        {
            "project": project,
            "role": role,
            "issue": queue[0] if queue else None,
            "later": queue[1:11],
            "remaining": len(queue),
            "classes": list(project.classes.all()),
            "check": selectors.health_check_latest(project=project),
        },
    )


def _label_error_for_owner(request: HttpRequest, pk: int) -> DataIssue:
    issue = get_object_or_404(DataIssue, pk=pk, kind=DataIssueKind.LABEL_ERROR)
    project_for_user(user=request.user, pk=issue.project_id, needed=Role.OWNER)
    return issue


@require_POST
def label_error_keep(request: HttpRequest, pk: int) -> HttpResponse:
    issue = _label_error_for_owner(request, pk)
    try:
        services.label_error_keep(issue=issue, reviewed_by=user_authenticated(request.user))
        messages.success(request, "Label kept; it will not be suggested again.")
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect_back(
        request, reverse("classifier:project-label-errors", args=[issue.project_id])
    )


@require_POST
def label_error_relabel(request: HttpRequest, pk: int) -> HttpResponse:
    issue = _label_error_for_owner(request, pk)
    chosen = request.POST.get("label_class", "")
    label_class = get_object_or_404(
        LabelClass, pk=int(chosen) if chosen.isdigit() else 0, project_id=issue.project_id
    )
    services.label_error_relabel(
        issue=issue, label_class=label_class, reviewed_by=user_authenticated(request.user)
    )
    messages.success(request, f"Relabeled {label_class.name}.")
    return redirect_back(
        request, reverse("classifier:project-label-errors", args=[issue.project_id])
    )
