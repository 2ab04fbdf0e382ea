"""The classifier's part of the API, under /api/ (labelplatform.api.urls): api:classifier:..."""

from django.urls import path

from classifier.api import views

app_name = "classifier"
urlpatterns = [
    path(
        "projects/<id:project_id>/training-runs/",
        views.TrainingRunCreateView.as_view(),
        name="training-run-create",
    ),
    path(
        "training-runs/<id:run_id>/",
        views.TrainingRunDetailView.as_view(),
        name="training-run-detail",
    ),
    path(
        "projects/<id:project_id>/model-versions/",
        views.ModelVersionListView.as_view(),
        name="model-version-list",
    ),
    path(
        "model-versions/<id:version_id>/activate/",
        views.ModelVersionActivateView.as_view(),
        name="model-version-activate",
    ),
    path(
        "projects/<id:project_id>/predictions/",
        views.PredictionCreateView.as_view(),
        name="prediction-job-create",
    ),
    path(
        "prediction-jobs/<id:job_id>/",
        views.PredictionJobDetailView.as_view(),
        name="prediction-job-detail",
    ),
    path(
        "projects/<id:project_id>/queue/",
        views.LabelingQueueView.as_view(),
        name="labeling-queue",
    ),
    path(
        "projects/<id:project_id>/suggestions/accept/",
        views.SuggestionsAcceptView.as_view(),
        name="suggestions-accept",
    ),
    path(
        "images/<id:image_id>/predictions/",
        views.ImagePredictionsView.as_view(),
        name="image-predictions",
    ),
]
