"""The site's URLs. Each app's pages and API have a namespace: "labeling:" and "classifier:"
for the pages, "api:labeling:" and "api:classifier:" for the API (labelplatform.api.urls),
whose schema and docs are "api:schema" and "api:docs"."""

from django.contrib import admin
from django.urls import include, path

# <id:...> in the apps' URLs: labelplatform.url_converters, registered by labelplatform.apps.
urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/", include("labelplatform.api.urls")),
    path("", include("classifier.urls")),
    path("", include("labeling.urls")),
    path("", include("webhooks.urls")),
]

handler404 = "labelplatform.errors.page_not_found"
