"""gunicorn's access log for the run command: one short line per page or API request.

A page loads a dozen static files and, in the gallery, one thumbnail per image: a line for each
would bury the lines a developer looks for (and the admin password the run command prints).
Requests for static files and image files that were served (2xx, 304) are therefore not
logged; anything else (a redirect to the login page, a 404, a 500) is, whatever the path.
Each logged request is one line, `GET /path?query 200 12ms` (the run command puts the time and
the process name in front).

`gunicorn --logger-class scripts.run_access_log.RunCommandLogger`: gunicorn documents
`logger_class` as the way to change its logging (a subclass of `gunicorn.glogging.Logger`).
Production keeps gunicorn's full JSON access log (labelplatform/gunicorn_conf.py).
"""

from __future__ import annotations

from gunicorn.glogging import Logger

# The URL prefixes of the static files (whitenoise) and of the image files and thumbnails
# (served by a view after a membership check).
FILE_PREFIXES = ("/static/", "/media/")
ACCESS_LOG_FORMAT = "%(m)s %(U)s%(q)s %(s)s %(M)sms"


def access_logged(*, path: str, status_code: int | None) -> bool:
    """Whether the run command logs a request: all but files served (200-299, 304)."""
    served = status_code is not None and (200 <= status_code < 300 or status_code == 304)
    return not (served and path.startswith(FILE_PREFIXES))


class RunCommandLogger(Logger):
    def access(self, resp, req, environ, request_time) -> None:
        if access_logged(path=req.path or "", status_code=getattr(resp, "status_code", None)):
            super().access(resp, req, environ, request_time)

    def atoms(self, resp, req, environ, request_time) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["q"] = f"?{atoms['q']}" if atoms.get("q") else ""  # the path as it was asked
        return atoms
