"""Invitations: an owner invites by email or link; the invitee sets a password and lands in
the project; links are single-use, expire and can be revoked."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from labeling import invitations
from labeling.models import Invitation, Membership, Role

pytestmark = pytest.mark.django_db

LINK = re.compile(r"http://testserver(/invitations/[^/\s]+/)")


def invite(client, project, django_capture_on_commit_callbacks, **fields) -> str:
    with django_capture_on_commit_callbacks(execute=True):
        page = client.post(
            reverse("labeling:project-invitations", args=[project.pk]),
            {"role": "annotator", **fields},
        )
    assert page.status_code == 200
    return LINK.search(page.content.decode()).group(1)


def test_an_emailed_invitation_lets_the_invitee_set_a_password_and_land_in_the_project(
    client, project, owner, django_capture_on_commit_callbacks
):
    client.force_login(owner)
    path = invite(client, project, django_capture_on_commit_callbacks, email="nia@example.com")

    [message] = mail.outbox
    assert message.to == ["nia@example.com"]
    assert f"http://testserver{path}" in message.body
    assert project.name in message.subject
    newcomer = Client()
    form = newcomer.get(path)
    assert form.status_code == 200
    assert f"Join {project.name}" in form.content.decode()
    joined = newcomer.post(path, {"username": "nia", "password": "a long passphrase 42"})

    assert joined.status_code == 302
    assert joined["Location"] == reverse("labeling:project-dashboard", args=[project.pk])
    nia = User.objects.get(username="nia")
    assert nia.email == "nia@example.com"
    assert Membership.objects.get(project=project, user=nia).role == Role.ANNOTATOR
    assert newcomer.get(joined["Location"]).status_code == 200  # signed in
    assert Invitation.objects.get().accepted_by == nia


def test_a_link_invitation_is_shown_to_copy_and_mails_nothing(
    client, project, owner, django_capture_on_commit_callbacks
):
    client.force_login(owner)
    path = invite(client, project, django_capture_on_commit_callbacks, role="viewer")
    assert mail.outbox == []
    Client().post(path, {"username": "vic", "password": "a long passphrase 42"})
    assert Membership.objects.get(user__username="vic").role == Role.VIEWER


def test_a_link_works_once(client, project, owner, django_capture_on_commit_callbacks):
    client.force_login(owner)
    path = invite(client, project, django_capture_on_commit_callbacks)
    Client().post(path, {"username": "first", "password": "a long passphrase 42"})

    again = Client().post(path, {"username": "second", "password": "a long passphrase 42"})

    assert again.status_code == 410
    assert "accepted" in again.content.decode()
    assert not User.objects.filter(username="second").exists()


def test_a_revoked_or_expired_link_is_refused(project, owner):
    revoked, revoked_token = invitations.invitation_create(
        project=project, role=Role.ANNOTATOR, invited_by=owner
    )
    invitations.invitation_revoke(invitation=revoked)
    expired, expired_token = invitations.invitation_create(
        project=project, role=Role.ANNOTATOR, invited_by=owner
    )
    Invitation.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(1))

    for token, state in ((revoked_token, "revoked"), (expired_token, "expired")):
        answer = Client().post(
            reverse("labeling:invitation-accept", args=[token]),
            {"username": f"u-{state}", "password": "a long passphrase 42"},
        )
        assert answer.status_code == 410
        assert state in answer.content.decode()
    assert Client().get(reverse("labeling:invitation-accept", args=["nonsense"])).status_code == 404


def test_owners_revoke_from_the_page(client, project, owner):
    invitation, _ = invitations.invitation_create(
        project=project, role=Role.ANNOTATOR, invited_by=owner
    )
    client.force_login(owner)
    client.post(reverse("labeling:project-invitation-revoke", args=[project.pk, invitation.pk]))
    invitation.refresh_from_db()
    assert invitation.state == "revoked"


def test_a_weak_password_or_taken_username_is_refused_and_the_link_stays_open(
    project, owner, annotator
):
    _, token = invitations.invitation_create(project=project, role=Role.ANNOTATOR, invited_by=owner)
    path = reverse("labeling:invitation-accept", args=[token])

    weak = Client().post(path, {"username": "wes", "password": "123"})
    taken = Client().post(
        path, {"username": annotator.username, "password": "a long passphrase 42"}
    )

    assert weak.status_code == 200 and "too short" in weak.content.decode()
    assert taken.status_code == 200 and "taken" in taken.content.decode()
    assert Invitation.objects.get().state == "open"


def test_a_signed_in_user_joins_with_one_click(project, owner, outsider):
    _, token = invitations.invitation_create(project=project, role=Role.ANNOTATOR, invited_by=owner)
    client = Client()
    client.force_login(outsider)

    client.post(reverse("labeling:invitation-accept", args=[token]))

    assert Membership.objects.get(project=project, user=outsider).role == Role.ANNOTATOR


def test_accepting_never_lowers_a_members_role(project, owner):
    _, token = invitations.invitation_create(project=project, role=Role.VIEWER, invited_by=owner)
    invitations.invitation_accept(token=token, user=owner)
    assert Membership.objects.get(project=project, user=owner).role == Role.OWNER


def test_only_owners_invite(client, project, annotator):
    client.force_login(annotator)
    page = client.get(reverse("labeling:project-invitations", args=[project.pk]))
    assert page.status_code == 403


def test_the_api_creates_lists_and_revokes_invitations(
    project, owner, django_capture_on_commit_callbacks
):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(owner)
    with django_capture_on_commit_callbacks(execute=True):
        created = api.post(
            f"/api/projects/{project.pk}/invitations/",
            {"email": "zed@example.com", "role": "viewer"},
            format="json",
        )

    assert created.status_code == 201
    link = created.json()["link"]
    assert link in mail.outbox[0].body
    [listed] = api.get(f"/api/projects/{project.pk}/invitations/").json()
    assert (listed["email"], listed["role"], listed["state"]) == (
        "zed@example.com",
        "viewer",
        "open",
    )
    assert "link" not in listed
    assert api.delete(f"/api/invitations/{listed['id']}/").status_code == 204
    assert Client().get(link.removeprefix("http://testserver")).status_code == 410
