from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        # The events come from explicit signals the other apps send after commit; connecting
        # here keeps labeling and the classifier unaware of webhooks.
        from webhooks import receivers

        receivers.connect()
