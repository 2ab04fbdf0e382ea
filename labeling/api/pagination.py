"""Page-number pagination that holds to what the schema says of its query parameters."""

from rest_framework import pagination, serializers

from labeling.selectors import ImagePaginator


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


class ImagePagination(Pagination):
    """Clients choose the page size, up to 500. DRF would answer a `page_size` that is not a
    number with the default size; a 400 tells the client its mistake instead. Pages are cut
    by labeling.selectors.ImagePaginator (ids first, then those rows with what they carry)."""

    django_paginator_class = ImagePaginator
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param, "")
        if raw == "":
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if size < 1:
            raise serializers.ValidationError(
                {self.page_size_query_param: ["A whole number from 1 (at most 500 are sent)."]}
            )
        return min(size, self.max_page_size)
