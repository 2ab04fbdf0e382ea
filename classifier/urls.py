"""The classifier's pages; included before labeling's urls at the site root."""

from django.urls import path

from classifier import views

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
    path("training-runs/<id:pk>/cancel/", views.training_run_cancel, name="training-run-cancel"),
    path("jobs/", views.jobs, name="jobs"),
    path("jobs/fragment/", views.jobs_fragment, name="jobs-fragment"),
    path("workers/", views.workers, name="workers"),
]
