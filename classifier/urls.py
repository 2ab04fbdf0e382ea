"""The classifier's pages; included before labeling's urls at the site root."""

from django.urls import path

from classifier import health_views, views

app_name = "classifier"
urlpatterns = [
    path("projects/<id:pk>/models/", views.project_models, name="project-models"),
    path("projects/<id:pk>/retrain/", views.project_retrain, name="project-retrain"),
    path("projects/<id:pk>/predict/", views.project_predict, name="project-predict"),
    path("projects/<id:pk>/jobs/", views.project_jobs, name="project-jobs"),
    path(
        "projects/<id:pk>/jobs/fragment/",
        views.project_jobs_fragment,
        name="project-jobs-fragment",
    ),
    path("projects/<id:pk>/workers/", views.project_workers, name="project-workers"),
    path(
        "model-versions/<id:pk>/activate/",
        views.model_version_activate,
        name="model-version-activate",
    ),
    # Under MEDIA_URL: the API token is accepted as for image files.
    path(
        "media/model-exports/<id:pk>/<str:part>/",
        views.model_export_file,
        name="model-export-file",
    ),
    path("model-versions/<id:pk>/pin/", views.model_version_pin, name="model-version-pin"),
    path("training-runs/<id:pk>/cancel/", views.training_run_cancel, name="training-run-cancel"),
    path("projects/<id:pk>/health/", health_views.project_health, name="project-health"),
    path(
        "projects/<id:pk>/health/check/",
        health_views.project_health_check,
        name="project-health-check",
    ),
    path(
        "projects/<id:pk>/health/fix-leaks/",
        health_views.project_split_leaks_fix,
        name="project-split-leaks-fix",
    ),
    path(
        "projects/<id:pk>/label-errors/",
        health_views.project_label_errors,
        name="project-label-errors",
    ),
    path("data-issues/<id:pk>/keep/", health_views.label_error_keep, name="label-error-keep"),
    path(
        "data-issues/<id:pk>/relabel/",
        health_views.label_error_relabel,
        name="label-error-relabel",
    ),
    path("jobs/", views.jobs, name="jobs"),
    path("jobs/fragment/", views.jobs_fragment, name="jobs-fragment"),
    path("workers/", views.workers, name="workers"),
]
