"""The body of every API error (labelplatform.api.exceptions makes them all this shape), and
fields that take JSON's types as the schema states them."""

from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    detail = serializers.JSONField(
        help_text="A message, or for invalid fields {field: [messages]}."
    )


class JSONBooleanField(serializers.BooleanField):
    """true or false, as the schema says: DRF's BooleanField would also take "yes", 1 or "on",
    which a client that sends them most likely did not mean."""

    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class JSONNumberField(serializers.FloatField):
    """A JSON number: DRF's FloatField would also take a string of digits, or true as 1."""

    default_error_messages = {"invalid": "A number is required."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        return super().to_internal_value(data)
