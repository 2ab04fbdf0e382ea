"""Invitations: owners invite by email or link and revoke; the invitee opens the link, sets a
password (or, signed in, just joins) and lands in the project."""

from django import forms
from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from labeling import invitations
from labeling.models import Invitation, Role
from labeling.permissions import project_for_user, user_authenticated


class InvitationForm(forms.Form):
    email = forms.EmailField(
        required=False, help_text="Leave empty to copy the link and pass it on yourself."
    )
    role = forms.ChoiceField(choices=Role.choices, initial=Role.ANNOTATOR)


class AcceptForm(forms.Form):
    username = forms.CharField(max_length=150)
    password = forms.CharField(widget=forms.PasswordInput)


def invitation_link(request: HttpRequest, token: str) -> str:
    return request.build_absolute_uri(reverse("labeling:invitation-accept", args=[token]))


@require_http_methods(["GET", "POST"])
def project_invitations(request: HttpRequest, pk: int) -> HttpResponse:
    project, role = project_for_user(user=request.user, pk=pk, needed=Role.OWNER)
    form = InvitationForm(request.POST if request.method == "POST" else None)
    new_link = None
    if request.method == "POST" and form.is_valid():
        invitation, token = invitations.invitation_create(
            project=project,
            role=form.cleaned_data["role"],
            email=form.cleaned_data["email"],
            invited_by=user_authenticated(request.user),
        )
        new_link = invitation_link(request, token)
        invitations.invitation_email_send(invitation=invitation, link=new_link)
        form = InvitationForm()
    listed = Invitation.objects.filter(project=project).select_related("accepted_by")
    return render(
        request,
        "labeling/project_invitations.html",
        {
            "project": project,
            "role": role,
            "form": form,
            "new_link": new_link,
            "invitations": listed,
        },
    )


@require_POST
def project_invitation_revoke(request: HttpRequest, pk: int, invitation_id: int) -> HttpResponse:
    project, _ = project_for_user(user=request.user, pk=pk, needed=Role.OWNER)
    invitation = get_object_or_404(Invitation, pk=invitation_id, project=project)
    invitations.invitation_revoke(invitation=invitation)
    return redirect("labeling:project-invitations", pk=project.pk)


@login_not_required
@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """Open to anyone with the link: the token is the credential."""
    invitation = invitations.invitation_by_token(token)
    signed_in = request.user.is_authenticated
    form = AcceptForm(request.POST if request.method == "POST" and not signed_in else None)
    error = None
    if invitation is None:
        error = "This invitation link is not valid."
    elif invitation.state != "open":
        error = (
            f"This invitation has been {invitation.state}. Ask the project's owner for a new one."
        )
    elif request.method == "POST" and (signed_in or form.is_valid()):
        try:
            user = invitations.invitation_accept(
                token=token,
                user=user_authenticated(request.user) if signed_in else None,
                username="" if signed_in else form.cleaned_data["username"],
                password="" if signed_in else form.cleaned_data["password"],
            )
        except ValidationError as refused:
            if hasattr(refused, "error_dict"):
                for field, messages in refused.message_dict.items():
                    form.add_error(field if field in form.fields else None, messages)
            else:
                error = " ".join(refused.messages)
        else:
            if not signed_in:
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("labeling:project-dashboard", pk=invitation.project_id)
    return render(
        request,
        "labeling/invitation_accept.html",
        {"invitation": invitation, "form": form, "error": error, "signed_in": signed_in},
        status=410 if error and invitation is not None else (404 if error else 200),
    )
