"""The body of every API error (labelplatform.api.exceptions makes them all this shape)."""

from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    detail = serializers.JSONField(
        help_text="A message, or for invalid fields {field: [messages]}."
    )
