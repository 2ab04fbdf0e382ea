"""The site's URLs. Each app's pages and API have a namespace: "labeling:" and "classifier:"
for the pages, "api:labeling:" and "api:classifier:" for the API (labelplatform.api.urls),
whose schema and docs are "api:schema" and "api:docs"."""

from django.contrib import admin
from django.urls import include, path

# The admin under the product's name (templates/admin/base_site.html adds the site's icon).
admin.site.site_header = "Label platform administration"
admin.site.site_title = "Label platform admin"
admin.site.index_title = "Projects, images and models"

# <id:...> in the apps' URLs: labelplatform.url_converters, registered by labelplatform.apps.
urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/", include("labelplatform.api.urls")),
    path("", include("classifier.urls")),
    path("", include("labeling.urls")),
]

handler404 = "labelplatform.errors.page_not_found"
