from django.urls import path

import labelplatform.url_converters  # noqa: F401  (registers <id:...>)
from labeling.api import views

# Names start with "api-": the web pages own the plain names (e.g. "image-detail").
urlpatterns = [
    path("auth/token/", views.TokenView.as_view(), name="api-token"),
    path("projects/", views.ProjectListView.as_view(), name="api-project-list"),
    path("projects/<id:project_id>/", views.ProjectDetailView.as_view(), name="api-project-detail"),
    path(
        "projects/<id:project_id>/members/",
        views.ProjectMembersView.as_view(),
        name="api-project-members",
    ),
    path(
        "projects/<id:project_id>/images/",
        views.ProjectImagesView.as_view(),
        name="api-project-images",
    ),
    path(
        "projects/<id:project_id>/stats/",
        views.ProjectStatsView.as_view(),
        name="api-project-stats",
    ),
    path(
        "projects/<id:project_id>/export/",
        views.ProjectExportView.as_view(),
        name="api-project-export",
    ),
    path("images/<id:image_id>/", views.ImageDetailView.as_view(), name="api-image-detail"),
    path(
        "images/<id:image_id>/annotations/",
        views.ImageAnnotationsView.as_view(),
        name="api-image-annotations",
    ),
]
