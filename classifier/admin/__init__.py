"""The Django admin for the classifier: model versions, training runs, prediction jobs,
predictions and the embedding cache (each module registers its models), and the
classifier's part of labeling's Project and Image admins (for_labeling, which
labeling.admin includes; it registers nothing).

Rows here are records of what the workers did, so they are read-only; every change goes
through classifier.services (training_run_start, model_version_activate, prediction_job_start,
training_run_cancel) from a button or an action, as on the site. The HTML they show is in
templates/admin/classifier/, its style in static/css/app.css.
"""

from classifier.admin import (  # noqa: F401  (register)
    data_health,
    jobs,
    model_versions,
    predictions,
)
