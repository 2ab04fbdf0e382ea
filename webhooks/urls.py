"""The webhooks' pages (namespace "webhooks")."""

from django.urls import path

from webhooks import views

app_name = "webhooks"
urlpatterns = [
    path("projects/<id:pk>/webhooks/", views.project_webhooks, name="project-webhooks"),
    path(
        "projects/<id:pk>/webhooks/<id:webhook_id>/delete/",
        views.webhook_delete,
        name="webhook-delete",
    ),
    path(
        "projects/<id:pk>/webhook-deliveries/<id:delivery_id>/resend/",
        views.webhook_delivery_resend,
        name="webhook-delivery-resend",
    ),
]
