"""The site's error handlers (ROOT_URLCONF's handler404)."""

from django.http import JsonResponse
from django.views import defaults


def page_not_found(request, exception):
    """An unknown /api/ URL answers like every other API error, JSON {"detail": ...}; the
    rest of the site gets the 404 page."""
    if request.path_info.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)
