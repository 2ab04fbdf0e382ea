import pytest
from django.core.management import call_command
from rest_framework.test import APIClient


def test_the_schema_is_valid_and_free_of_warnings(tmp_path):
    # --fail-on-warn turns any guess drf-spectacular has to make into a failure.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yaml"))
    assert "/api/projects/{project_id}/images/" in (tmp_path / "s.yaml").read_text()


@pytest.mark.django_db
def test_the_schema_is_served_to_anyone():
    response = APIClient().get("/api/schema/?format=json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {"/api/auth/token/", "/api/images/{image_id}/annotations/"} <= set(paths)


@pytest.mark.django_db
def test_the_docs_page_uses_our_own_copy_of_swagger_ui():
    response = APIClient().get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "cdn." not in page
