"""The image lists' pagination: the client picks the page size, and pages are cut by ids."""

from rest_framework import serializers

from labeling.selectors import ImagePaginator
from labelplatform.api.pagination import Pagination


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
