"""Page-number pagination that holds to what the schema says of its query parameters."""

from rest_framework import pagination


class Pagination(pagination.PageNumberPagination):
    """DRF's page-number pagination (REST_FRAMEWORK's DEFAULT_PAGINATION_CLASS). `page` is a
    number from 1: anything else is DRF's 404 "Invalid page.", including DRF's own "last",
    which the schema does not offer."""

    last_page_strings = ()

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
        return parameters
