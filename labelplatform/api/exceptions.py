"""Every API error is JSON {"detail": ...} with a 4xx status, never an HTML page or a 500."""

from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler


def json_exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        # Services raise Django's ValidationError; the API reports it as a 400.
        messages = exc.messages
        return Response(
            {"detail": messages[0] if len(messages) == 1 else messages},
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, SuspiciousOperation):
        # Django's request limits (too many files or fields, an oversized body) raise these
        # while DRF parses the body; Django alone would answer with an HTML 400 page.
        exc = exceptions.ParseError(str(exc) or "The request could not be parsed.")
    response = exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "detail" not in response.data:
        non_field = response.data.get("non_field_errors")
        if len(response.data) == 1 and isinstance(non_field, list) and len(non_field) == 1:
            # An error about the request as a whole (e.g. wrong credentials): a plain message.
            response.data = {"detail": non_field[0]}
            return response
        # Serializer field errors: keep them, under "detail" like every other error.
        response.data = {"detail": response.data}
    elif response is not None and isinstance(response.data, list):
        response.data = {"detail": response.data}
    return response
