"""The labeling side's pages (namespace "labeling"), included at the site root after the
classifier's."""

from django.urls import path

from labeling.views import (
    images,
    invitations,
    labeling_page,
    media,
    profile,
    projects,
    quality,
    upload,
)

app_name = "labeling"
urlpatterns = [
    path("", projects.home, name="home"),
    path("profile/", profile.profile, name="profile"),
    path("profile/token/", profile.profile_token_replace, name="profile-token-replace"),
    path("profile/token/revoke/", profile.profile_token_revoke, name="profile-token-revoke"),
    path("projects/new/", projects.project_create, name="project-create"),
    path("projects/<id:pk>/", projects.project_dashboard, name="project-dashboard"),
    path("projects/<id:pk>/settings/", projects.project_settings, name="project-settings"),
    path("projects/<id:pk>/delete/", projects.project_delete, name="project-delete"),
    path("projects/<id:pk>/members/", projects.project_member_add, name="project-member-add"),
    path(
        "projects/<id:pk>/members/<id:user_id>/role/",
        projects.project_member_role,
        name="project-member-role",
    ),
    path(
        "projects/<id:pk>/members/<id:user_id>/remove/",
        projects.project_member_remove,
        name="project-member-remove",
    ),
    path(
        "projects/<id:pk>/export/<str:format>/",
        projects.project_export,
        name="project-export",
    ),
    path("projects/<id:pk>/upload/", upload.project_upload, name="project-upload"),
    path("projects/<id:pk>/quality/", quality.project_quality, name="project-quality"),
    path(
        "projects/<id:pk>/invitations/",
        invitations.project_invitations,
        name="project-invitations",
    ),
    path(
        "projects/<id:pk>/invitations/<id:invitation_id>/revoke/",
        invitations.project_invitation_revoke,
        name="project-invitation-revoke",
    ),
    path("invitations/<str:token>/", invitations.invitation_accept, name="invitation-accept"),
    path("projects/<id:pk>/label/", labeling_page.project_label, name="project-label"),
    path(
        "projects/<id:pk>/label/queue/",
        labeling_page.project_label_queue,
        name="project-label-queue",
    ),
    path(
        "projects/<id:pk>/label/annotate/",
        labeling_page.project_label_annotate,
        name="project-label-annotate",
    ),
    path(
        "projects/<id:pk>/label/undo/",
        labeling_page.project_label_undo,
        name="project-label-undo",
    ),
    path(
        "projects/<id:pk>/label/skip/",
        labeling_page.project_label_skip,
        name="project-label-skip",
    ),
    path(
        "projects/<id:pk>/label/unskip/",
        labeling_page.project_label_unskip,
        name="project-label-unskip",
    ),
    path("projects/<id:pk>/grid/", images.project_grid, name="project-grid"),
    path("projects/<id:pk>/grid/apply/", images.project_grid_apply, name="project-grid-apply"),
    path(
        "projects/<id:pk>/grid/accept-suggestions/",
        images.project_grid_accept_suggestions,
        name="project-grid-accept-suggestions",
    ),
    path(
        "projects/<id:pk>/grid/accept-suggestions/count/",
        images.project_grid_accept_count,
        name="project-grid-accept-count",
    ),
    path(
        "projects/<id:pk>/batches/<id:batch_pk>/undo/",
        images.annotation_batch_undo,
        name="annotation-batch-undo",
    ),
    path("projects/<id:pk>/gallery/", images.project_gallery, name="project-gallery"),
    path("images/<id:pk>/", images.image_detail, name="image-detail"),
    path("images/<id:pk>/review/", images.image_review, name="image-review"),
    path("images/<id:pk>/split/", images.image_split, name="image-split"),
    # Media: every image file goes through a membership check; there is no public media URL.
    path("media/images/<id:pk>/", media.image_file, name="image-file"),
    path("media/thumbnails/<id:pk>/", media.image_thumbnail, name="image-thumbnail"),
]
