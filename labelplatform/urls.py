from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/", include("labeling.api.urls")),
    path("api/", include("classifier.api_urls")),
    path("", include("classifier.urls")),
    path("", include("labeling.urls")),
]

handler404 = "labelplatform.errors.page_not_found"
