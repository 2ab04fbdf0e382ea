"""Shapes of the webhooks API's requests and responses."""

from rest_framework import serializers

from webhooks.models import DeliveryStatus, Event, Webhook, WebhookDelivery


class WebhookSerializer(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.ChoiceField(choices=Event.choices))
    created_at = serializers.DateTimeField(read_only=True)

    class Meta:
        model = Webhook
        fields = ["id", "project", "url", "events", "active", "created_at"]
        read_only_fields = fields


class WebhookCreatedSerializer(WebhookSerializer):
    """The webhook as just registered, with its secret: shown this once."""

    secret = serializers.CharField(read_only=True)

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookCreateSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=500)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=Event.choices), min_length=1
    )
    secret = serializers.CharField(
        max_length=200,
        required=False,
        help_text="Signs each call (X-Signature). Generated when left out; answered once.",
    )


class WebhookDeliverySerializer(serializers.ModelSerializer):
    event = serializers.ChoiceField(choices=Event.choices, read_only=True)
    status = serializers.ChoiceField(choices=DeliveryStatus.choices, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id", "webhook", "event", "object_ids", "status", "attempts", "response_code",
            "duration_ms", "error", "resent_from", "created_at", "last_attempt_at",
            "next_attempt_at", "payload",
        ]  # fmt: skip
        read_only_fields = fields
