"""The labeling part of the API, under /api/ (labelplatform.api.urls): api:labeling:..."""

from django.urls import path

from labeling.api import views

app_name = "labeling"
urlpatterns = [
    path("auth/token/", views.TokenView.as_view(), name="token"),
    path("projects/", views.ProjectListView.as_view(), name="project-list"),
    path("projects/<id:project_id>/", views.ProjectDetailView.as_view(), name="project-detail"),
    path(
        "projects/<id:project_id>/members/",
        views.ProjectMembersView.as_view(),
        name="project-members",
    ),
    path(
        "projects/<id:project_id>/images/",
        views.ProjectImagesView.as_view(),
        name="project-images",
    ),
    path(
        "projects/<id:project_id>/stats/",
        views.ProjectStatsView.as_view(),
        name="project-stats",
    ),
    path(
        "projects/<id:project_id>/export/",
        views.ProjectExportView.as_view(),
        name="project-export",
    ),
    path(
        "projects/<id:project_id>/export/zip/",
        views.ProjectExportZipView.as_view(),
        name="project-export-zip",
    ),
    path(
        "projects/<id:project_id>/export/csv/",
        views.ProjectExportCsvView.as_view(),
        name="project-export-csv",
    ),
    path(
        "projects/<id:project_id>/export/json/",
        views.ProjectExportJsonView.as_view(),
        name="project-export-json",
    ),
    path(
        "projects/<id:project_id>/agreement/",
        views.ProjectAgreementView.as_view(),
        name="project-agreement",
    ),
    path(
        "projects/<id:project_id>/annotators/",
        views.ProjectAnnotatorsView.as_view(),
        name="project-annotators",
    ),
    path(
        "projects/<id:project_id>/skips/",
        views.ProjectSkipsView.as_view(),
        name="project-skips",
    ),
    path(
        "projects/<id:project_id>/skips/<id:image_id>/",
        views.ProjectSkipDetailView.as_view(),
        name="project-skip-detail",
    ),
    path(
        "projects/<id:project_id>/invitations/",
        views.ProjectInvitationsView.as_view(),
        name="project-invitations",
    ),
    path(
        "invitations/<id:invitation_id>/",
        views.InvitationDetailView.as_view(),
        name="invitation-detail",
    ),
    path("images/<id:image_id>/", views.ImageDetailView.as_view(), name="image-detail"),
    path(
        "annotation-batches/<id:batch_id>/undo/",
        views.AnnotationBatchUndoView.as_view(),
        name="annotation-batch-undo",
    ),
    path(
        "images/<id:image_id>/annotations/",
        views.ImageAnnotationsView.as_view(),
        name="image-annotations",
    ),
]
