"""The webhooks API: owners register, list and remove a project's webhooks, read each
webhook's delivery log, and send a delivery again. Thin views over webhooks.services."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.models import Role
from labeling.permissions import project_for_user, project_role_required, user_authenticated
from labelplatform.api.schema import error_responses
from webhooks import selectors, services
from webhooks.api import serializers as s
from webhooks.models import Webhook, WebhookDelivery


def _webhook_for_owner(request, webhook_id: int) -> Webhook:
    webhook = get_object_or_404(Webhook, pk=webhook_id)
    project_role_required(user=request.user, project=webhook.project_id, needed=Role.OWNER)
    return webhook


class ProjectWebhooksView(APIView):
    @extend_schema(
        operation_id="project_webhooks_list",
        summary="The project's webhooks (owners)",
        responses={200: s.WebhookSerializer(many=True), **error_responses(401, 403, 404)},
    )
    def get(self, request, project_id: int):
        project, _ = project_for_user(user=request.user, pk=project_id, needed=Role.OWNER)
        return Response(s.WebhookSerializer(selectors.webhooks_of(project=project), many=True).data)

    @extend_schema(
        operation_id="project_webhooks_create",
        summary="Register a URL for some of the project's events (owners)",
        description="Each event is POSTed as JSON, signed: X-Signature: sha256=HMAC-SHA256("
        "secret, body), with X-Webhook-Timestamp (also in the body). The URL must resolve "
        "to public addresses unless the server allows private ones.",
        request=s.WebhookCreateSerializer,
        responses={201: s.WebhookCreatedSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request, project_id: int):
        project, _ = project_for_user(user=request.user, pk=project_id, needed=Role.OWNER)
        serializer = s.WebhookCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        webhook = services.webhook_create(
            project=project,
            created_by=user_authenticated(request.user),
            **serializer.validated_data,
        )
        return Response(s.WebhookCreatedSerializer(webhook).data, status=status.HTTP_201_CREATED)


class WebhookDetailView(APIView):
    @extend_schema(
        operation_id="webhook_destroy",
        summary="Remove a webhook and its delivery log (owners)",
        responses={204: None, **error_responses(401, 403, 404)},
    )
    def delete(self, request, webhook_id: int):
        services.webhook_delete(webhook=_webhook_for_owner(request, webhook_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookDeliveriesView(APIView):
    @extend_schema(
        operation_id="webhook_deliveries_list",
        summary="The webhook's deliveries, newest first (owners)",
        responses={200: s.WebhookDeliverySerializer(many=True), **error_responses(401, 403, 404)},
    )
    def get(self, request, webhook_id: int):
        webhook = _webhook_for_owner(request, webhook_id)
        deliveries = selectors.deliveries_of(webhook=webhook)
        return Response(s.WebhookDeliverySerializer(deliveries, many=True).data)


class WebhookDeliveryResendView(APIView):
    @extend_schema(
        operation_id="webhook_delivery_resend",
        summary="Send a delivery again, as a new delivery (owners)",
        request=None,
        responses={201: s.WebhookDeliverySerializer, **error_responses(401, 403, 404)},
    )
    def post(self, request, delivery_id: int):
        delivery = get_object_or_404(
            WebhookDelivery.objects.select_related("webhook"), pk=delivery_id
        )
        _webhook_for_owner(request, delivery.webhook_id)
        again = services.webhook_delivery_resend(delivery=delivery)
        return Response(s.WebhookDeliverySerializer(again).data, status=status.HTTP_201_CREATED)
