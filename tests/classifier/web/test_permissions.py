"""Who may open each classifier page and press each button: the permission matrix.

Roles: owner, annotator, viewer (members), outsider (logged in, not a member), anonymous,
staff (acts as owner everywhere). Outsiders get 404 (the project does not exist for them),
members below the needed role 403, anonymous users the login page.
"""

import pytest
from django.urls import reverse

from classifier.models import JobStatus
from tests.classifier.factories import TrainingRunFactory

PAGE = {"owner": 200, "annotator": 200, "viewer": 200, "outsider": 404, "staff": 200}
OWNER_POST = {"owner": 302, "annotator": 403, "viewer": 403, "outsider": 404, "staff": 302}
ANYONE = {"owner": 200, "annotator": 200, "viewer": 200, "outsider": 200, "staff": 200}

ENDPOINTS = [
    # (name, method, the argument it takes, expected status per role)
    ("project-models", "get", "project", PAGE),
    ("project-jobs", "get", "project", PAGE),
    ("project-jobs-fragment", "get", "project", PAGE),
    ("project-workers", "get", "project", PAGE),
    ("project-retrain", "post", "project", OWNER_POST),
    ("model-version-activate", "post", "version", OWNER_POST),
    ("training-run-cancel", "post", "run", OWNER_POST),
    ("jobs", "get", None, ANYONE),
    ("jobs-fragment", "get", None, ANYONE),
    ("workers", "get", None, ANYONE),
]
ROLES = ["owner", "annotator", "viewer", "outsider", "staff", "anonymous"]


@pytest.fixture
def targets(project, versions):
    return {
        "project": project.pk,
        "version": versions[3].pk,
        "run": TrainingRunFactory(project=project, status=JobStatus.QUEUED).pk,
        None: None,
    }


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("name", "method", "target", "expected"), ENDPOINTS)
def test_permission_matrix(
    client, request, targets, broker_down, role, name, method, target, expected
):
    if role != "anonymous":
        client.force_login(request.getfixturevalue(role))
    url = reverse(name, args=[targets[target]] if target else [])
    response = getattr(client, method)(url)
    if role == "anonymous":
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))
    else:
        assert response.status_code == expected[role]


@pytest.mark.parametrize(
    ("name", "target"),
    [("project-retrain", "project"), ("model-version-activate", "version"),
     ("training-run-cancel", "run")],
)  # fmt: skip
def test_the_buttons_refuse_get(client, owner, targets, name, target):
    client.force_login(owner)
    assert client.get(reverse(name, args=[targets[target]])).status_code == 405


@pytest.mark.parametrize(
    ("name", "target"),
    [("project-retrain", "project"), ("model-version-activate", "version"),
     ("training-run-cancel", "run")],
)  # fmt: skip
def test_the_buttons_need_the_csrf_token(owner, targets, name, target):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.post(reverse(name, args=[targets[target]])).status_code == 403


def test_a_refused_activation_changes_nothing(client, annotator, versions):
    client.force_login(annotator)
    client.post(reverse("model-version-activate", args=[versions[3].pk]))
    versions[3].refresh_from_db()
    assert versions[3].status == "candidate"
