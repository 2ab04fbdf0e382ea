"""The API under /api/: its schema and docs, and each app's part in a namespace of its own
(api:labeling:..., api:classifier:...)."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

app_name = "api"
urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("", include("labeling.api.urls")),
    path("", include("classifier.api.urls")),
    path("", include("webhooks.api.urls")),
]
