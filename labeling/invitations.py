"""Invitations into a project: created by owners, sent by email through Django's email
backend (or copied as a link), accepted once by the invitee, who sets a password (or, signed
in already, just joins) and lands in the project.

The link carries a random token; only its sha256 is stored. An invitation is single-use:
accepting it locks its row, checks it is still open, and records who accepted it.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from labeling.models import Invitation, Project, Role
from labeling.services import membership_set


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def invitation_create(
    *, project: Project, role: str, invited_by: User, email: str = ""
) -> tuple[Invitation, str]:
    """A new open invitation, valid INVITATION_DAYS days. Returns it and its token (shown
    or mailed once: only its hash is kept). ValidationError for an unknown role."""
    if role not in Role.values:
        raise ValidationError(f"Unknown role {role!r}; use one of {', '.join(Role.values)}.")
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        project=project,
        role=role,
        email=email.strip(),
        token_sha256=_token_hash(token),
        invited_by=invited_by,
        expires_at=timezone.now() + timedelta(days=settings.INVITATION_DAYS),
    )
    return invitation, token


def invitation_email_send(*, invitation: Invitation, link: str) -> None:
    """Mail the link to the invitation's address, after commit, through Django's email
    backend (settings.EMAIL_BACKEND: the console unless SMTP is configured)."""
    if not invitation.email:
        return
    inviter = invitation.invited_by.username if invitation.invited_by else "An owner"
    subject = f"You are invited to {invitation.project.name}"
    body = (
        f"{inviter} invites you to the project {invitation.project.name} as "
        f"{invitation.get_role_display().lower()}.\n\nOpen this link to join (it works once, "
        f"until {invitation.expires_at:%Y-%m-%d %H:%M %Z}):\n{link}\n"
    )
    transaction.on_commit(
        lambda: send_mail(subject, body, None, [invitation.email], fail_silently=False)
    )


def invitation_revoke(*, invitation: Invitation) -> Invitation:
    """Close an open invitation; an accepted one stays accepted (remove the member instead)."""
    Invitation.objects.filter(pk=invitation.pk, accepted_at=None, revoked_at=None).update(
        revoked_at=timezone.now()
    )
    invitation.refresh_from_db()
    return invitation


def invitation_by_token(token: str) -> Invitation | None:
    """The invitation of this link, whatever its state; None for an unknown token."""
    return (
        Invitation.objects.select_related("project", "invited_by")
        .filter(token_sha256=_token_hash(token))
        .first()
    )


@transaction.atomic
def invitation_accept(
    *,
    token: str,
    user: User | None = None,
    username: str = "",
    password: str = "",
) -> User:
    """Accept the invitation: `user` (signed in) joins the project with its role, or a new
    account is made with `username` and `password` (Django's password validators apply; its
    email is the invitation's). Returns the member. ValidationError when the link is
    unknown, used, revoked or expired, or the new account's details are refused. A member
    already in the project keeps a higher role."""
    hashed = _token_hash(token)
    invitation = (
        Invitation.objects.select_for_update(of=("self",))
        .select_related("project")
        .filter(token_sha256=hashed)
    ).first()
    if invitation is None:
        raise ValidationError("This invitation link is not valid.")
    if invitation.state != "open":
        raise ValidationError(f"This invitation has been {invitation.state}.")
    if user is None:
        username = username.strip()
        if not username:
            raise ValidationError({"username": "Choose a username."})
        if User.objects.filter(username__iexact=username).exists():
            raise ValidationError({"username": "That username is taken."})
        candidate = User(username=username, email=invitation.email)
        try:
            validate_password(password, candidate)
        except ValidationError as error:
            raise ValidationError({"password": error.messages}) from None
        candidate.set_password(password)
        candidate.save()
        user = candidate
    ranks = {Role.VIEWER: 1, Role.ANNOTATOR: 2, Role.OWNER: 3}
    current = invitation.project.memberships.filter(user=user).values_list("role", flat=True)
    if not current or ranks[Role(current[0])] < ranks[Role(invitation.role)]:
        membership_set(project=invitation.project, user=user, role=invitation.role)
    invitation.accepted_at, invitation.accepted_by = timezone.now(), user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    return user
