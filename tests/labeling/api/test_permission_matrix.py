"""Every endpoint against every kind of caller: the project's owner, annotator and viewer, a
user outside the project, an anonymous caller, and staff (owners everywhere).

Outsiders get 404 so a project's existence never leaks; members whose role is too low get 403;
anonymous callers 401 (the media URLs, web pages too, send them to the login page instead).
"""

from dataclasses import dataclass

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from labeling.api.urls import urlpatterns
from labeling.models import Role
from tests.factories import ImageFactory, UserFactory, png_bytes
from tests.labeling.api.conftest import assert_json_error

CALLERS = ["owner", "annotator", "viewer", "outsider", "anonymous", "staff"]


@dataclass
class Endpoint:
    method: str
    url: str  # formatted with project and image ids
    payload: dict | None = None
    format: str = "json"


def upload_payload() -> dict:
    return {"files": [SimpleUploadedFile("new.png", png_bytes(seed=987654))], "split": "train"}


ENDPOINTS = {
    "list projects": Endpoint("get", "/api/projects/"),
    "create project": Endpoint("post", "/api/projects/", {"name": "New", "classes": ["a", "b"]}),
    "project": Endpoint("get", "/api/projects/{project}/"),
    "members": Endpoint("get", "/api/projects/{project}/members/"),
    "add member": Endpoint(
        "post", "/api/projects/{project}/members/", {"username": "newbie", "role": "viewer"}
    ),
    "images": Endpoint("get", "/api/projects/{project}/images/"),
    "upload": Endpoint("post", "/api/projects/{project}/images/", "upload", "multipart"),
    "image": Endpoint("get", "/api/images/{image}/"),
    "move image": Endpoint("patch", "/api/images/{image}/", {"split": "test"}),
    "annotate": Endpoint("post", "/api/images/{image}/annotations/", {"label": "coffee"}),
    "stats": Endpoint("get", "/api/projects/{project}/stats/"),
    "export": Endpoint("get", "/api/projects/{project}/export/?format=csv"),
    # The files the API links to as "url" and "thumbnail_url", fetched with the API token.
    "image file": Endpoint("get", "/media/images/{image}/"),
    "thumbnail file": Endpoint("get", "/media/thumbnails/{image}/"),
}

#                     owner annotator viewer outsider anonymous staff
EXPECTED = {
    "list projects":   (200,  200,      200,   200,     401,      200),
    "create project":  (201,  201,      201,   201,     401,      201),
    "project":         (200,  200,      200,   404,     401,      200),
    "members":         (200,  200,      200,   404,     401,      200),
    "add member":      (201,  403,      403,   404,     401,      201),
    "images":          (200,  200,      200,   404,     401,      200),
    "upload":          (201,  201,      403,   404,     401,      201),
    "image":           (200,  200,      200,   404,     401,      200),
    "move image":      (200,  403,      403,   404,     401,      200),
    "annotate":        (201,  201,      403,   404,     401,      201),
    "stats":           (200,  200,      200,   404,     401,      200),
    "export":          (200,  403,      403,   404,     401,      200),
    "image file":      (200,  200,      200,   404,     302,      200),
    "thumbnail file":  (200,  200,      200,   404,     302,      200),
}  # fmt: skip

MATRIX = [
    pytest.param(name, caller, status, id=f"{name}-{caller}")
    for name, statuses in EXPECTED.items()
    for caller, status in zip(CALLERS, statuses, strict=True)
]


@pytest.fixture
def callers(owner, annotator, viewer, outsider):
    UserFactory(username="newbie")
    return {
        "owner": owner,
        "annotator": annotator,
        "viewer": viewer,
        "outsider": outsider,
        "anonymous": None,
        "staff": UserFactory(username="stella-staff", is_staff=True),
    }


def test_the_matrix_covers_every_endpoint_of_the_labeling_api():
    routes = {pattern.pattern._route for pattern in urlpatterns} - {"auth/token/"}
    covered = {
        e.url.removeprefix("/api/").split("?")[0]
        for e in ENDPOINTS.values()
        if e.url.startswith("/api/")
    }
    covered = {url.replace("{project}", "<id:project_id>") for url in covered}
    covered = {url.replace("{image}", "<id:image_id>") for url in covered}
    assert routes == covered


@pytest.mark.parametrize(("endpoint", "caller", "expected"), MATRIX)
def test_permission_matrix(api_as, project, callers, endpoint, caller, expected):
    image = ImageFactory(project=project)
    spec = ENDPOINTS[endpoint]
    url = spec.url.format(project=project.pk, image=image.pk)
    payload = upload_payload() if spec.payload == "upload" else spec.payload
    client = api_as(callers[caller])
    response = getattr(client, spec.method)(url, payload, format=spec.format)
    if expected >= 400 and url.startswith("/api/"):
        assert_json_error(response, expected)
    else:
        assert response.status_code == expected, response.content


@pytest.mark.parametrize("caller", ["owner", "staff"])
def test_a_project_that_does_not_exist_is_a_404_like_someone_elses(api_as, callers, caller):
    assert_json_error(api_as(callers[caller]).get("/api/projects/999999/"), 404)
    assert_json_error(api_as(callers[caller]).get("/api/images/999999/"), 404)


def test_an_outsider_cannot_tell_a_hidden_project_from_a_missing_one(api_as, project, outsider):
    client = api_as(outsider)
    hidden = client.get(f"/api/projects/{project.pk}/")
    missing = client.get("/api/projects/999999/")
    assert (hidden.status_code, hidden.json()) == (missing.status_code, missing.json())


def test_outsiders_do_not_see_the_project_in_their_list(api_as, project, outsider):
    assert api_as(outsider).get("/api/projects/").json()["results"] == []


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ANNOTATOR])
def test_a_member_below_owner_cannot_add_members_nor_promote_themselves(
    api_as, project, callers, role
):
    user = callers[role]
    response = api_as(user).post(
        f"/api/projects/{project.pk}/members/",
        {"username": user.username, "role": "owner"},
        format="json",
    )
    assert_json_error(response, 403)
    assert project.memberships.get(user=user).role == role
