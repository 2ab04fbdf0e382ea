"""Reads on the classifier side, shaped for the pages and the API; callers write
`from classifier import selectors; selectors.job_wait(...)`.

Every function here is a plain query (or, for workers_status, one broadcast to the workers
with a short timeout); none loads TensorFlow. Querysets come with the related rows the
pages show already joined, so a list page costs a fixed number of queries.

- versions: model_version_active, model_versions_of, model_version_shown,
  metrics_per_class, model_version_counts, model_version_prediction_count,
  model_version_report, project_model_summary,
  unsure_threshold_of
- predictions: predictions_of_image, prediction_job_results, image_predictions_shown
- labeling_queue: labeling_queue (the next images in a strategy's order, with suggestions
  and reasons), images_to_label_next (just the images), STRATEGIES
- suggestions: suggestions_for_images, image_suggestion (the active version's prediction
  where the project shows it), images_with_acceptable_suggestion, suggested_class_ids
- jobs: training_run_unfinished, jobs_for_page, job_wait (and WAIT_MAX_SECONDS),
  job_worker_stopping
- workers: workers_status, workers_with_versions
- health: health_check_latest, data_issues_of, data_issue_counts, image_ids_with_issue,
  label_error_queue, split_leak_count, project_health
"""

from classifier.selectors.health import (
    data_issue_counts,
    data_issues_of,
    health_check_latest,
    image_ids_with_issue,
    label_error_queue,
    project_health,
    split_leak_count,
)
from classifier.selectors.jobs import (
    JOBS_FINISHED_SHOWN,
    WAIT_MAX_SECONDS,
    job_wait,
    job_worker_stopping,
    jobs_for_page,
    training_run_unfinished,
)
from classifier.selectors.labeling_queue import (
    STRATEGIES,
    QueuedImage,
    images_to_label_next,
    labeling_queue,
)
from classifier.selectors.predictions import (
    image_predictions_shown,
    prediction_job_results,
    predictions_of_image,
)
from classifier.selectors.suggestions import (
    image_suggestion,
    images_with_acceptable_suggestion,
    suggested_class_ids,
    suggestions_for_images,
)
from classifier.selectors.versions import (
    metrics_per_class,
    model_version_activation_message,
    model_version_active,
    model_version_calibration_report,
    model_version_counts,
    model_version_prediction_count,
    model_version_report,
    model_version_shown,
    model_versions_of,
    project_model_summary,
    unsure_threshold_of,
)
from classifier.selectors.workers import workers_status, workers_with_versions

__all__ = [
    "JOBS_FINISHED_SHOWN",
    "STRATEGIES",
    "WAIT_MAX_SECONDS",
    "QueuedImage",
    "data_issue_counts",
    "data_issues_of",
    "health_check_latest",
    "image_ids_with_issue",
    "image_predictions_shown",
    "image_suggestion",
    "images_to_label_next",
    "images_with_acceptable_suggestion",
    "job_wait",
    "job_worker_stopping",
    "jobs_for_page",
    "label_error_queue",
    "labeling_queue",
    "metrics_per_class",
    "model_version_activation_message",
    "model_version_active",
    "model_version_calibration_report",
    "model_version_counts",
    "model_version_prediction_count",
    "model_version_report",
    "model_version_shown",
    "model_versions_of",
    "prediction_job_results",
    "predictions_of_image",
    "project_health",
    "project_model_summary",
    "split_leak_count",
    "suggested_class_ids",
    "suggestions_for_images",
    "training_run_unfinished",
    "unsure_threshold_of",
    "workers_status",
    "workers_with_versions",
]
