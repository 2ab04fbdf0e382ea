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


@pytest.fixture
def schema() -> dict:
    return APIClient().get("/api/schema/?format=json").json()


def operations(schema: dict):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


def every_schema(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from every_schema(value)
    elif isinstance(node, list):
        for value in node:
            yield from every_schema(value)


@pytest.mark.django_db
def test_every_operation_takes_one_request_content_type_and_answers_one_per_status(schema):
    # Generated clients pick one body type per operation (openapi-python-client makes a module
    # that fails to import when one body is listed under several).
    for name, operation in operations(schema):
        if "requestBody" in operation:
            assert len(operation["requestBody"]["content"]) == 1, name
        for status, response in operation["responses"].items():
            content = set(response.get("content", {}))
            # The zip's two names are one binary body (some generators read only the second).
            assert len(content - {"application/octet-stream"}) <= 1, (name, status, content)


@pytest.mark.django_db
def test_nullable_stands_beside_a_type(schema):
    # OpenAPI 3.0 ignores `nullable` without a `type` in the same object (beside an allOf or
    # a $ref): the field would read as never null.
    for node in every_schema(schema["components"]):
        if node.get("nullable"):
            assert "type" in node, node


@pytest.mark.django_db
def test_fields_the_server_always_writes_are_required(schema):
    components = schema["components"]["schemas"]
    for name in ("TrainingRun", "PredictionJob", "HealthCheck", "ModelVersion", "LabelClass"):
        component = components[name]
        assert set(component["required"]) == set(component["properties"]), name


@pytest.mark.django_db
def test_query_parameters_use_the_shared_enums(schema):
    for name, operation in operations(schema):
        for parameter in operation.get("parameters", []):
            assert "enum" not in parameter["schema"], (name, parameter["name"])
