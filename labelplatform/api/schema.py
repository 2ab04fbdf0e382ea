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


# Components whose optional fields may be absent from a response, as their serializers say:
# a prediction result names a stored image (image_id) or an ad-hoc file (name); a run's
# hyperparameters are the overrides it was given; a data issue's detail depends on its kind.
OPTIONAL_IN_RESPONSES = {"PredictionResult", "RunHyperparameters", "DataIssueDetail"}


def response_fields_are_always_present(result, generator, request, public):
    """A response's fields are all required: DRF writes every field of a serializer, defaults
    included, so a typed client need not check for an absent status, progress or colour.
    drf-spectacular marks a model field with a default optional, as it is in a request;
    request bodies have components of their own (COMPONENT_SPLIT_REQUEST: *Request)."""
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") or name in OPTIONAL_IN_RESPONSES:
            continue
        if "properties" in component:
            component["required"] = sorted(component["properties"])
    return result


# A schema that only null matches, in OpenAPI 3.0's terms (it has no type "null"): `nullable`
# counts only beside a `type`.
NULL_ONLY = {"type": "object", "nullable": True, "enum": [None]}


def nullable_references_allow_null(result, generator, request, public):
    """drf-spectacular writes a nullable nested object as {"allOf": [{"$ref"}], "nullable":
    true}, but OpenAPI 3.0 ignores `nullable` without a `type` beside it, so clients read the
    field as never null (a training run's model_version is null until it has finished). Say
    it as oneOf the object or null."""
    for schema in _schemas(result):
        all_of = schema.get("allOf")
        if schema.get("nullable") and "type" not in schema and all_of and len(all_of) == 1:
            del schema["allOf"], schema["nullable"]
            schema["oneOf"] = [all_of[0], dict(NULL_ONLY)]
    return result


def query_enums_are_shared(result, generator, request, public):
    """A query parameter's choices refer to the named enum of the same values (SplitEnum,
    LabelStatusEnum, ...) instead of an inline copy, from which each client generator makes
    a type per operation (ProjectsImagesListSplit, ProjectAgreementRetrieveSplit, ...)."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    by_values = {
        tuple(sorted(map(str, schema["enum"]))): name
        for name, schema in components.items()
        if "enum" in schema and schema.get("type") == "string"
    }
    for operation in _operations(result):
        for parameter in operation.get("parameters", []):
            schema = parameter.get("schema", {})
            if parameter.get("in") != "query" or "enum" not in schema:
                continue
            name = by_values.get(tuple(sorted(map(str, schema["enum"]))))
            if name is None:
                continue
            shared = {"$ref": f"#/components/schemas/{name}"}
            if "default" in schema:
                # OpenAPI 3.0 ignores keywords beside a $ref: wrap it to keep the default.
                shared = {"allOf": [shared], "default": schema["default"]}
            parameter["schema"] = shared
    return result


def _schemas(node):
    """Every schema object (every dict) in the document, depth first."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _schemas(value)
    elif isinstance(node, list):
        for value in node:
            yield from _schemas(value)
