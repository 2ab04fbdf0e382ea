"""The classifier's part of the API, included under /api/."""

from django.urls import path

import labelplatform.url_converters  # noqa: F401  (registers <id:...>)
from classifier import api

urlpatterns = [
    path(
        "projects/<id:project_id>/training-runs/",
        api.TrainingRunCreateView.as_view(),
        name="api-training-run-create",
    ),
    path(
        "training-runs/<id:run_id>/",
        api.TrainingRunDetailView.as_view(),
        name="api-training-run-detail",
    ),
    path(
        "projects/<id:project_id>/model-versions/",
        api.ModelVersionListView.as_view(),
        name="api-model-version-list",
    ),
    path(
        "model-versions/<id:version_id>/activate/",
        api.ModelVersionActivateView.as_view(),
        name="api-model-version-activate",
    ),
    path(
        "projects/<id:project_id>/predictions/",
        api.PredictionCreateView.as_view(),
        name="api-prediction-job-create",
    ),
    path(
        "prediction-jobs/<id:job_id>/",
        api.PredictionJobDetailView.as_view(),
        name="api-prediction-job-detail",
    ),
    path(
        "images/<id:image_id>/predictions/",
        api.ImagePredictionsView.as_view(),
        name="api-image-predictions",
    ),
]
