"""The webhooks' part of the API, under /api/ (labelplatform.api.urls): api:webhooks:..."""

from django.urls import path

from webhooks.api import views

app_name = "webhooks"
urlpatterns = [
    path(
        "projects/<id:project_id>/webhooks/",
        views.ProjectWebhooksView.as_view(),
        name="project-webhooks",
    ),
    path("webhooks/<id:webhook_id>/", views.WebhookDetailView.as_view(), name="webhook-detail"),
    path(
        "webhooks/<id:webhook_id>/deliveries/",
        views.WebhookDeliveriesView.as_view(),
        name="webhook-deliveries",
    ),
    path(
        "webhook-deliveries/<id:delivery_id>/resend/",
        views.WebhookDeliveryResendView.as_view(),
        name="webhook-delivery-resend",
    ),
]
