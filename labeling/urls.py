from django.urls import path

from labeling import views

urlpatterns = [
    path("", views.home, name="home"),
    path("projects/new/", views.project_create, name="project-create"),
    path("projects/<int:pk>/", views.project_dashboard, name="project-dashboard"),
    path("projects/<int:pk>/members/", views.project_member_add, name="project-member-add"),
    path(
        "projects/<int:pk>/members/<int:user_id>/role/",
        views.project_member_role,
        name="project-member-role",
    ),
    path(
        "projects/<int:pk>/members/<int:user_id>/remove/",
        views.project_member_remove,
        name="project-member-remove",
    ),
    path("projects/<int:pk>/export/<str:format>/", views.project_export, name="project-export"),
    path("projects/<int:pk>/upload/", views.project_upload, name="project-upload"),
    path("projects/<int:pk>/label/", views.project_label, name="project-label"),
    path("projects/<int:pk>/label/queue/", views.project_label_queue, name="project-label-queue"),
    path(
        "projects/<int:pk>/label/annotate/",
        views.project_label_annotate,
        name="project-label-annotate",
    ),
    path("projects/<int:pk>/label/undo/", views.project_label_undo, name="project-label-undo"),
    path("projects/<int:pk>/label/skip/", views.project_label_skip, name="project-label-skip"),
    path("projects/<int:pk>/grid/", views.project_grid, name="project-grid"),
    path("projects/<int:pk>/grid/apply/", views.project_grid_apply, name="project-grid-apply"),
    path("projects/<int:pk>/gallery/", views.project_gallery, name="project-gallery"),
    path("images/<int:pk>/", views.image_detail, name="image-detail"),
    path("images/<int:pk>/review/", views.image_review, name="image-review"),
    path("images/<int:pk>/split/", views.image_split, name="image-split"),
    # Media: every image file goes through a membership check; there is no public media URL.
    path("media/images/<int:pk>/", views.image_file, name="image-file"),
    path("media/thumbnails/<int:pk>/", views.image_thumbnail, name="image-thumbnail"),
]
