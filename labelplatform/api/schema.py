"""What the OpenAPI schema says of every view: the error responses views name
(error_responses), and touches drf-spectacular cannot make from the views alone
(SPECTACULAR_SETTINGS' POSTPROCESSING_HOOKS), which state what DRF does for every view, so
no view need repeat it."""

from drf_spectacular.utils import OpenApiResponse

from labelplatform.api.serializers import ErrorSerializer

ERROR_RESPONSES = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input"),
    401: OpenApiResponse(ErrorSerializer, description="Not authenticated"),
    403: OpenApiResponse(ErrorSerializer, description="Your role does not allow this"),
    404: OpenApiResponse(ErrorSerializer, description="Not found, or not your project"),
    429: OpenApiResponse(
        ErrorSerializer, description="Too many waits open; ask again after Retry-After seconds"
    ),
}


def error_responses(*codes: int) -> dict:
    """For extend_schema(responses=...): the standard error responses of these codes."""
    return {code: ERROR_RESPONSES[code] for code in codes}


UNSUPPORTED_MEDIA_TYPE = {
    "description": "The body is not one of the documented content types",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def optional_query_parameters_allow_empty_value(result, generator, request, public):
    """An optional query parameter sent empty (`?status=`, as an HTML form sends an unset
    field) counts as absent: DRF's pagination, the filter serializers and `?wait=` all read
    it so."""
    for operation in _operations(result):
        for parameter in operation.get("parameters", []):
            if parameter.get("in") == "query" and not parameter.get("required"):
                parameter["allowEmptyValue"] = True
    return result


def request_bodies_may_be_unsupported(result, generator, request, public):
    """An operation that takes a body answers 415 to a content type its parsers do not
    read (DRF's UnsupportedMediaType)."""
    for operation in _operations(result):
        if "requestBody" in operation:
            operation["responses"].setdefault("415", UNSUPPORTED_MEDIA_TYPE)
    return result


def _operations(result):
    for path in result.get("paths", {}).values():
        yield from path.values()
