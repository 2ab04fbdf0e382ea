from django.urls import path

from labeling.api import views

# Names start with "api-": the web pages own the plain names (e.g. "image-detail").
urlpatterns = [
    path("auth/token/", views.TokenView.as_view(), name="api-token"),
    path("projects/", views.ProjectListView.as_view(), name="api-project-list"),
    path(
        "projects/<int:project_id>/", views.ProjectDetailView.as_view(), name="api-project-detail"
    ),
    path(
        "projects/<int:project_id>/members/",
        views.ProjectMembersView.as_view(),
        name="api-project-members",
    ),
    path(
        "projects/<int:project_id>/images/",
        views.ProjectImagesView.as_view(),
        name="api-project-images",
    ),
    path(
        "projects/<int:project_id>/stats/",
        views.ProjectStatsView.as_view(),
        name="api-project-stats",
    ),
    path(
        "projects/<int:project_id>/export/",
        views.ProjectExportView.as_view(),
        name="api-project-export",
    ),
    path("images/<int:image_id>/", views.ImageDetailView.as_view(), name="api-image-detail"),
    path(
        "images/<int:image_id>/annotations/",
        views.ImageAnnotationsView.as_view(),
        name="api-image-annotations",
    ),
]
