from django.apps import AppConfig
from django.urls import register_converter


class LabelplatformConfig(AppConfig):
    """The project's own start-up, before any URL module loads (settings' INSTALLED_APPS)."""

    name = "labelplatform"
    verbose_name = "Label platform"

    def ready(self) -> None:
        from labelplatform.url_converters import DatabaseIdConverter

        # <id:...> in every app's URLs, registered once, here rather than in the root URLconf
        # so that any URL module can be imported on its own (tools, tests) after setup.
        register_converter(DatabaseIdConverter, "id")
