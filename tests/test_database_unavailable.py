"""DatabaseUnavailableMiddleware's rule: only a lost connection is a 503 (the real outage is
tests/deploy/test_database_restart.py); a query failing on a healthy connection stays an error."""

import json

import pytest
from django.db import InterfaceError, OperationalError, connection
from django.test import RequestFactory

from labelplatform.middleware import DatabaseUnavailableMiddleware

pytestmark = pytest.mark.django_db


def middleware() -> DatabaseUnavailableMiddleware:
    return DatabaseUnavailableMiddleware(get_response=lambda request: None)


def test_an_operational_error_on_a_healthy_connection_is_not_taken_for_an_outage():
    # Such as SQLite's "database is locked" or a missing table: bugs or contention, a 500.
    connection.ensure_connection()
    request = RequestFactory().get("/")

    assert middleware().process_exception(request, OperationalError("no such table: x")) is None


def test_a_closed_connection_is_an_outage_answered_in_the_apis_error_format():
    request = RequestFactory().get("/api/projects/")

    response = middleware().process_exception(request, InterfaceError("connection closed"))

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert json.loads(response.content) == {
        "detail": "The database is unreachable; try again in a few seconds."
    }


def test_a_page_gets_a_short_html_page_that_needs_no_database(django_assert_num_queries):
    request = RequestFactory().get("/projects/1/", headers={"Accept": "text/html"})

    with django_assert_num_queries(0):
        response = middleware().process_exception(request, InterfaceError("connection closed"))

    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert "Briefly unavailable" in response.content.decode()
