from django.urls import path

from labeling import views

app_name = "labeling"
urlpatterns = [
    path("", views.home, name="home"),
    path("projects/new/", views.project_create, name="project-create"),
    path("projects/<id:pk>/", views.project_dashboard, name="project-dashboard"),
    path("projects/<id:pk>/members/", views.project_member_add, name="project-member-add"),
    path(
        "projects/<id:pk>/members/<id:user_id>/role/",
        views.project_member_role,
        name="project-member-role",
    ),
    path(
        "projects/<id:pk>/members/<id:user_id>/remove/",
        views.project_member_remove,
        name="project-member-remove",
    ),
    path("projects/<id:pk>/export/<str:format>/", views.project_export, name="project-export"),
    path("projects/<id:pk>/upload/", views.project_upload, name="project-upload"),
    path("projects/<id:pk>/label/", views.project_label, name="project-label"),
    path("projects/<id:pk>/label/queue/", views.project_label_queue, name="project-label-queue"),
    path(
        "projects/<id:pk>/label/annotate/",
        views.project_label_annotate,
        name="project-label-annotate",
    ),
    path("projects/<id:pk>/label/undo/", views.project_label_undo, name="project-label-undo"),
    path("projects/<id:pk>/label/skip/", views.project_label_skip, name="project-label-skip"),
    path("projects/<id:pk>/grid/", views.project_grid, name="project-grid"),
    path("projects/<id:pk>/grid/apply/", views.project_grid_apply, name="project-grid-apply"),
    path("projects/<id:pk>/gallery/", views.project_gallery, name="project-gallery"),
    path("images/<id:pk>/", views.image_detail, name="image-detail"),
    path("images/<id:pk>/review/", views.image_review, name="image-review"),
    path("images/<id:pk>/split/", views.image_split, name="image-split"),
    # Media: every image file goes through a membership check; there is no public media URL.
    path("media/images/<id:pk>/", views.image_file, name="image-file"),
    path("media/thumbnails/<id:pk>/", views.image_thumbnail, name="image-thumbnail"),
]
