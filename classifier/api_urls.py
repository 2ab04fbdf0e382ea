"""The classifier's part of the API, included under /api/."""

from django.urls import path

from classifier import api

urlpatterns = [
    path(
        "projects/<int:project_id>/training-runs/",
        api.TrainingRunCreateView.as_view(),
        name="api-training-run-create",
    ),
    path(
        "training-runs/<int:run_id>/",
        api.TrainingRunDetailView.as_view(),
        name="api-training-run-detail",
    ),
    path(
        "projects/<int:project_id>/model-versions/",
        api.ModelVersionListView.as_view(),
        name="api-model-version-list",
    ),
    path(
        "model-versions/<int:version_id>/activate/",
        api.ModelVersionActivateView.as_view(),
        name="api-model-version-activate",
    ),
    path(
        "projects/<int:project_id>/predictions/",
        api.PredictionCreateView.as_view(),
        name="api-prediction-job-create",
    ),
    path(
        "prediction-jobs/<int:job_id>/",
        api.PredictionJobDetailView.as_view(),
        name="api-prediction-job-detail",
    ),
    path(
        "images/<int:image_id>/predictions/",
        api.ImagePredictionsView.as_view(),
        name="api-image-predictions",
    ),
]
