"""`/healthz` for container health checks and load balancers.

Answered before every other middleware on purpose: a probe reaches the container as
`127.0.0.1:8000` over plain HTTP, which production settings would otherwise reject (the host
is not in ALLOWED_HOSTS), redirect to HTTPS, or send to the login page. The answer says only
whether the process can reach its database, so it reveals nothing worth protecting.
"""

import logging

from django.db import DatabaseError, connection
from django.http import HttpResponse

logger = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"


class HealthzMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info != HEALTH_PATH:
            return self.get_response(request)
        try:
            connection.ensure_connection()
        except DatabaseError as error:
            logger.warning("health check: database unreachable", extra={"error": str(error)})
            response = HttpResponse("database unreachable\n", status=503, content_type="text/plain")
        else:
            response = HttpResponse("ok\n", content_type="text/plain")
        # SecurityMiddleware never sees this answer; it carries the header every other does.
        response["X-Content-Type-Options"] = "nosniff"
        return response
