"""Which requests the run command's access log leaves out (scripts/run_access_log.py)."""

import pytest

from scripts.run_access_log import access_logged


@pytest.mark.parametrize(
    "path, status_code",
    [
        ("/static/css/app.css", 200),
        ("/static/css/app.css", 304),
        ("/media/thumbnails/12/", 200),
        ("/media/images/12/", 206),
    ],
)
def test_files_served_are_not_logged(path, status_code):
    assert not access_logged(path=path, status_code=status_code)


@pytest.mark.parametrize(
    "path, status_code",
    [
        ("/static/no-such-file.css", 404),
        ("/media/thumbnails/12/", 302),  # to the login page
        ("/media/images/12/", 403),
        ("/media/images/12/", 500),
        ("/static/css/app.css", None),  # no response started
    ],
)
def test_files_not_served_are_logged(path, status_code):
    assert access_logged(path=path, status_code=status_code)


@pytest.mark.parametrize("path", ["/", "/projects/3/", "/api/images/4/", "/admin/", "/staticky/"])
def test_pages_and_api_requests_are_logged(path):
    assert access_logged(path=path, status_code=200)
