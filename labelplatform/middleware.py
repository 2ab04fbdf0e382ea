import logging

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.contrib.auth.views import redirect_to_login
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.urls import reverse
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

logger = logging.getLogger(__name__)

# Seconds a client is asked to wait before trying again while the database is unreachable. A
# restarted PostgreSQL answers again within a few seconds (README, "Faults").
DATABASE_RETRY_AFTER_SECONDS = 5


def is_database_unreachable(error: BaseException) -> bool:
    """Whether `error` means the connection to the database is gone (server down, restarting,
    network cut), as opposed to a failed query on a healthy connection.

    InterfaceError is always about the connection ("connection already closed"). An
    OperationalError counts only when the connection is unusable afterwards: SQLite's
    "database is locked" or a missing table are OperationalErrors too, and are bugs or
    contention to see as a 500, not an outage to wait out.
    """
    if isinstance(error, InterfaceError):
        return True
    if not isinstance(error, OperationalError):
        return False
    # No connection: connecting failed. Otherwise ask it (one round trip on a broken socket
    # fails at once).
    return connection.connection is None or not connection.is_usable()


def wants_json(request: HttpRequest) -> bool:
    """API requests and the pages' own scripts (which ask for JSON) get JSON errors."""
    return request.path_info.startswith("/api/") or (
        request.accepts("application/json") and not request.accepts("text/html")
    )


def database_unavailable_response(request: HttpRequest, error: BaseException) -> HttpResponse:
    """503 with Retry-After: a short page, or the API's {"detail": ...} error."""
    logger.warning(
        "database unreachable: answered 503",
        extra={"path": request.path_info, "method": request.method, "error": str(error)},
    )
    detail = "The database is unreachable; try again in a few seconds."
    if wants_json(request):
        response: HttpResponse = JsonResponse({"detail": detail}, status=503)
    else:
        # Rendered without the request: no context processor may query the database.
        response = HttpResponse(render_to_string("503.html", {"detail": detail}), status=503)
    response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    return response


class DatabaseUnavailableMiddleware:
    """Answers a request that fails because the database is unreachable with a clean 503.

    Without it, a PostgreSQL restart turns every request of those seconds into a 500 with a
    traceback in the logs. Nothing else is needed to recover: Django drops a connection that
    raised such an error at the end of the request (and health-checks persistent ones, see
    CONN_HEALTH_CHECKS in settings), so the next request connects afresh.

    process_exception covers views (the API's too: DRF re-raises what its handler does not
    know). Django passes no exception raised in a middleware's process_view to any
    process_exception, so LoginRequiredExceptApiMiddleware, where a page's first query
    happens (the session's user), answers for itself with the same response.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_database_unreachable(exception):
            return database_unavailable_response(request, exception)
        return None


class LoginRequiredExceptApiMiddleware(LoginRequiredMiddleware):
    """Django's login-required-everywhere, except the API.

    API requests authenticate with a token inside DRF, after middleware has run, and answer
    an anonymous caller with a JSON 401 rather than a redirect to the login page.

    Media URLs (the image files the API links to as "url") also accept the API token, so a
    tool fetches the files with the same credentials it uses for the API; the media view
    then checks membership as for a browser.

    Anonymous visitors of the admin go to the admin's own login page, whatever the admin view:
    Django marks its site-wide admin views so, but not the model admins' views nor custom
    admin URLs, which would otherwise send them to the site's login page.
    """

    def process_view(self, request, view_func, view_args, view_kwargs):
        try:
            return self._login_required(request, view_func, view_args, view_kwargs)
        except (OperationalError, InterfaceError) as error:
            # Looking up the session's user is a page's first query (see
            # DatabaseUnavailableMiddleware for why it is answered here).
            if is_database_unreachable(error):
                return database_unavailable_response(request, error)
            raise

    def _login_required(self, request, view_func, view_args, view_kwargs):
        if request.path_info.startswith("/api/"):
            return None
        if request.path_info.startswith(settings.MEDIA_URL) and not request.user.is_authenticated:
            try:
                authenticated = TokenAuthentication().authenticate(request)
            except AuthenticationFailed:
                authenticated = None  # a bad token is no login: the usual redirect follows
            if authenticated is not None:
                request.user = authenticated[0]
        return super().process_view(request, view_func, view_args, view_kwargs)

    def handle_no_permission(self, request, view_func):
        match = request.resolver_match
        if match is not None and admin.site.name in match.namespaces:
            return redirect_to_login(
                request.get_full_path(), reverse("admin:login", current_app=admin.site.name)
            )
        return super().handle_no_permission(request, view_func)
