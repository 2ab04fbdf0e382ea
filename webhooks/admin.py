"""Webhooks in the admin: each with its delivery log, and "send again" for deliveries."""

from django.contrib import admin, messages

from webhooks import services
from webhooks.models import Webhook, WebhookDelivery


class WebhookDeliveryInline(admin.TabularInline):
    model = WebhookDelivery
    fields = ["event", "status", "attempts", "response_code", "duration_ms", "error", "created_at"]
    readonly_fields = ["event", "status", "attempts", "response_code", "duration_ms", "error"]
    readonly_fields += ["created_at"]
    extra = 0
    can_delete = False
    ordering = ["-created_at"]
    max_num = 0
    show_change_link = True


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    list_display = ["url", "project", "events", "active", "created_at"]
    list_filter = ["active"]
    search_fields = ["url", "project__name"]
    raw_id_fields = ["project", "created_by"]
    inlines = [WebhookDeliveryInline]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "event",
        "webhook",
        "status",
        "attempts",
        "response_code",
        "duration_ms",
        "created_at",
    ]
    list_filter = ["status", "event"]
    readonly_fields = [field.name for field in WebhookDelivery._meta.fields]
    actions = ["send_again"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Send again")
    def send_again(self, request, queryset) -> None:
        for delivery in queryset.select_related("webhook"):
            services.webhook_delivery_resend(delivery=delivery)
        self.message_user(
            request, f"{queryset.count()} delivery(ies) sent again.", messages.SUCCESS
        )
