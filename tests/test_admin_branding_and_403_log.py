"""The admin carries the product's name and the site's icon (no more /favicon.ico 404 on
every admin page), and a 403 is logged as one line with its reason, without a traceback."""

import logging
import logging.config

import pytest
from django.conf import settings
from django.urls import reverse

from labelplatform.structured_logging import logging_config

pytestmark = pytest.mark.django_db


def test_admin_pages_have_the_products_name_and_icon(admin_client):
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert "<title>Projects, images and models | Label platform admin</title>" in page
    assert '<a href="/admin/">Label platform administration</a>' in page
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page
    change_list = admin_client.get("/admin/labeling/project/").content.decode()
    assert '<link rel="icon" href="/static/favicon.svg"' in change_list


@pytest.fixture(params=["development", "production"])
def configured_logging(request):
    """The settings' logging configuration, or production's JSON one, applied for the test."""
    config = settings.LOGGING if request.param == "development" else logging_config(level="INFO")
    logging.config.dictConfig(config)
    yield
    logging.config.dictConfig(settings.LOGGING)


def test_a_403_is_one_line_with_its_reason_and_no_traceback(
    client, project, viewer, configured_logging, caplog
):
    client.force_login(viewer)
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client.get(reverse("labeling:project-settings", args=[project.pk]))
    assert response.status_code == 403
    records = [r for r in caplog.records if r.name == "django.request"]
    assert len(records) == 1
    assert records[0].getMessage() == (
        f"Forbidden (Permission denied): /projects/{project.pk}/settings/ - "
        "This needs the owner role."
    )
    assert records[0].exc_info is None
    assert "Traceback" not in caplog.text
