"""The permission matrix of the web pages, the labeling page's JSON endpoints and the media
URLs: every role, a non-member, a staff user and an anonymous visitor against each of them.

Anonymous visitors are sent to the login page; a project you are not a member of does not
exist for you (404); a member whose role is too low gets 403; staff act as owners.
"""

import json
from dataclasses import dataclass, field

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from labeling.models import Role
from tests.factories import ImageFactory, MembershipFactory, UserFactory
from tests.labeling.upload_corpus import jpeg

ANYONE = "anyone"  # any logged-in user, member or not


@dataclass(frozen=True)
class Endpoint:
    url_name: str
    method: str
    needs: str  # ANYONE, or the lowest role that may use it
    ok: int  # the status a permitted user gets
    # What the URL takes: "project", "image", "member" (project and user), "export" (project
    # and format) or "none".
    args: str = "project"
    body: dict = field(default_factory=dict)
    as_json: bool = False

    def __str__(self) -> str:
        return f"{self.method} {self.url_name}"


ENDPOINTS = [
    Endpoint("home", "get", ANYONE, 200, args="none"),
    Endpoint("project-create", "get", ANYONE, 200, args="none"),
    Endpoint("project-dashboard", "get", Role.VIEWER, 200),
    Endpoint("project-gallery", "get", Role.VIEWER, 200),
    Endpoint("image-detail", "get", Role.VIEWER, 200, args="image"),
    Endpoint("image-file", "get", Role.VIEWER, 200, args="image"),
    Endpoint("image-thumbnail", "get", Role.VIEWER, 200, args="image"),
    Endpoint("project-upload", "get", Role.ANNOTATOR, 200),
    Endpoint("project-upload", "post", Role.ANNOTATOR, 201,
             body={"split": "auto", "files": "jpeg"}),
    Endpoint("project-label", "get", Role.ANNOTATOR, 200),
    Endpoint("project-label-queue", "get", Role.ANNOTATOR, 200),
    Endpoint("project-grid", "get", Role.ANNOTATOR, 200),
    Endpoint("project-label-annotate", "post", Role.ANNOTATOR, 201, as_json=True,
             body={"image": "image", "label_class": "coffee"}),
    Endpoint("project-label-undo", "post", Role.ANNOTATOR, 200, as_json=True,
             body={"image": "image"}),
    Endpoint("project-label-skip", "post", Role.ANNOTATOR, 200, as_json=True,
             body={"image": "image"}),
    Endpoint("project-grid-apply", "post", Role.ANNOTATOR, 302,
             body={"image_ids": "image", "label_class": "coffee"}),
    Endpoint("project-member-add", "post", Role.OWNER, 302,
             body={"username": "newcomer", "role": Role.VIEWER}),
    Endpoint("project-member-role", "post", Role.OWNER, 302, args="member",
             body={"role": Role.VIEWER}),
    Endpoint("project-member-remove", "post", Role.OWNER, 302, args="member"),
    Endpoint("image-review", "post", Role.OWNER, 302, args="image", body={"label_class": "coffee"}),
    Endpoint("image-split", "post", Role.OWNER, 302, args="image", body={"split": "test"}),
    Endpoint("project-export", "get", Role.OWNER, 200, args="export"),
]  # fmt: skip

VISITORS = ["owner", "annotator", "viewer", "outsider", "staff", "anonymous"]
RANK = {Role.VIEWER: 1, Role.ANNOTATOR: 2, Role.OWNER: 3}
VISITOR_RANK = {"owner": 3, "staff": 3, "annotator": 2, "viewer": 1}


def expected_status(endpoint: Endpoint, visitor: str) -> int:
    if visitor == "anonymous":
        return 302  # to the login page
    if endpoint.needs == ANYONE:
        return endpoint.ok
    if visitor == "outsider":
        return 404
    return endpoint.ok if VISITOR_RANK[visitor] >= RANK[endpoint.needs] else 403


@pytest.fixture
def visitors(owner, annotator, viewer, outsider):
    staff = UserFactory(username="stella-staff", is_staff=True)
    return {
        "owner": owner,
        "annotator": annotator,
        "viewer": viewer,
        "outsider": outsider,
        "staff": staff,
        "anonymous": None,
    }


def _request(client, endpoint: Endpoint, project):
    image = ImageFactory(project=project)
    coffee = project.classes.get(name="coffee")
    UserFactory(username="newcomer")
    member = MembershipFactory(project=project, role=Role.ANNOTATOR).user
    args = {
        "project": [project.pk],
        "image": [image.pk],
        "member": [project.pk, member.pk],
        "export": [project.pk, "csv"],
        "none": [],
    }[endpoint.args]
    url = reverse(endpoint.url_name, args=args)
    values = {
        "image": image.pk,
        "coffee": coffee.pk,
        "jpeg": SimpleUploadedFile("new.jpg", jpeg(seed=42)),
    }
    body = {key: values.get(value, value) for key, value in endpoint.body.items()}
    if endpoint.method == "get":
        return client.get(url)
    if endpoint.url_name == "project-upload":
        return client.post(url, body, headers={"Accept": "application/json"})
    if endpoint.as_json:
        return client.post(url, json.dumps(body), content_type="application/json")
    return client.post(url, body)


@pytest.mark.parametrize("visitor", VISITORS)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_permission_matrix(client, project, visitors, endpoint, visitor):
    user = visitors[visitor]
    if user is not None:
        client.force_login(user)
    response = _request(client, endpoint, project)
    assert response.status_code == expected_status(endpoint, visitor)
    if visitor == "anonymous":
        assert response["Location"].startswith(reverse("login") + "?next=")
    elif response.status_code == 302:
        assert not response["Location"].startswith(reverse("login"))


def test_the_matrix_covers_every_url_of_the_labeling_pages():
    from labeling.urls import urlpatterns

    covered = {endpoint.url_name for endpoint in ENDPOINTS}
    assert {pattern.name for pattern in urlpatterns} <= covered
