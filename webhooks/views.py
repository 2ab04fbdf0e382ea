"""The owners' webhooks page: register a URL for events, remove it, read its delivery log and
send a delivery again. Thin over webhooks.services."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from labeling.models import Role
from labeling.permissions import project_for_user, user_authenticated
from webhooks import selectors, services
from webhooks.models import Event, Webhook, WebhookDelivery

# Deliveries shown per webhook on the page (the API lists more).
PAGE_DELIVERIES = 20


class WebhookForm(forms.Form):
    url = forms.URLField(max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(choices=Event.choices, widget=forms.CheckboxSelectMultiple)
    secret = forms.CharField(
        max_length=200, required=False, help_text="Generated when left empty; shown once."
    )


@require_http_methods(["GET", "POST"])
def project_webhooks(request: HttpRequest, pk: int) -> HttpResponse:
    project, role = project_for_user(user=request.user, pk=pk, needed=Role.OWNER)
    form = WebhookForm(request.POST if request.method == "POST" else None)
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            created = services.webhook_create(
                project=project, created_by=user_authenticated(request.user), **form.cleaned_data
            )
        except ValidationError as refused:
            for field, errors in refused.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            form = WebhookForm()
    webhooks = [
        (webhook, list(selectors.deliveries_of(webhook=webhook)[:PAGE_DELIVERIES]))
        for webhook in selectors.webhooks_of(project=project)
    ]
    return render(
        request,
        "webhooks/project_webhooks.html",
        {"project": project, "role": role, "form": form, "created": created, "webhooks": webhooks},
    )


@require_POST
def webhook_delete(request: HttpRequest, pk: int, webhook_id: int) -> HttpResponse:
    project, _ = project_for_user(user=request.user, pk=pk, needed=Role.OWNER)
    services.webhook_delete(webhook=get_object_or_404(Webhook, pk=webhook_id, project=project))
    messages.success(request, "Webhook removed.")
    return redirect("webhooks:project-webhooks", pk=project.pk)


@require_POST
def webhook_delivery_resend(request: HttpRequest, pk: int, delivery_id: int) -> HttpResponse:
    project, _ = project_for_user(user=request.user, pk=pk, needed=Role.OWNER)
    delivery = get_object_or_404(WebhookDelivery, pk=delivery_id, webhook__project=project)
    services.webhook_delivery_resend(delivery=delivery)
    messages.success(request, f"Delivery {delivery.pk} ({delivery.event}) is being sent again.")
    return redirect("webhooks:project-webhooks", pk=project.pk)
