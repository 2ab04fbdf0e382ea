from rest_framework.test import APIClient

from tests.support.responses import assert_json_error


def test_a_token_from_username_and_password_authenticates_later_calls(project, owner):
    client = APIClient()
    response = client.post(
        "/api/auth/token/", {"username": owner.username, "password": "password"}, format="json"
    )
    assert response.status_code == 200
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    projects = client.get("/api/projects/").json()["results"]
    assert [p["name"] for p in projects] == ["Coffee"]


def test_asking_twice_returns_the_same_token(owner):
    credentials = {"username": owner.username, "password": "password"}
    first = APIClient().post("/api/auth/token/", credentials, format="json").json()["token"]
    second = APIClient().post("/api/auth/token/", credentials, format="json").json()["token"]
    assert first == second


def test_a_wrong_password_gets_a_400_with_a_message(owner):
    response = APIClient().post(
        "/api/auth/token/", {"username": owner.username, "password": "nope"}, format="json"
    )
    assert_json_error(response, 400)
    assert response.json()["detail"] == "Unable to log in with provided credentials."


def test_missing_credentials_name_the_missing_fields(db):
    response = APIClient().post("/api/auth/token/", {}, format="json")
    assert_json_error(response, 400)
    assert set(response.json()["detail"]) == {"username", "password"}


def test_an_unknown_token_is_a_401(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef")
    assert_json_error(client.get("/api/projects/"), 401)


def test_no_credentials_is_a_401_not_a_redirect_to_the_login_page(db):
    response = APIClient().get("/api/projects/")
    assert_json_error(response, 401)
    assert response["WWW-Authenticate"] == "Token"


def test_a_browser_session_authenticates_reads(project, owner):
    client = APIClient()
    client.force_login(owner)
    assert client.get(f"/api/projects/{project.pk}/").status_code == 200


def test_a_browser_session_needs_the_csrf_token_to_write(owner):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(owner)
    response = client.post("/api/projects/", {"name": "X", "classes": ["a", "b"]}, format="json")
    assert_json_error(response, 403)
    assert "CSRF" in response.json()["detail"]


def test_the_token_endpoint_works_from_a_logged_in_browser_without_csrf(owner):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(owner)
    response = client.post(
        "/api/auth/token/", {"username": owner.username, "password": "password"}, format="json"
    )
    assert response.status_code == 200
