"""Writes on the classifier side: training runs, model versions, prediction jobs.

One module per subsystem; the names the web (views, API, admin, the retrain command) and the
workers call are re-exported here, so callers write `from classifier import services` and
`services.training_run_start(...)`:

- `jobs`: a job row first, then its message by task name; failure, staleness, orphans and
  the periodic reconciliation. `jobs_dispatch_unsent`, `jobs_recover_orphans`,
  `jobs_reconcile`, `BROKER_UNREACHABLE_NOTE`, `AD_HOC_FILES_GRACE`.
- `training`: `training_run_start`, `training_run_cancel`, `training_run_finish` (the end of
  a run, called by the worker), the training set (`TrainingSet`, `training_set_for`) and
  `DEFAULT_HYPERPARAMETERS` (from classifier.ml.hyperparameters).
- `versions`: `model_version_activate` and `model_version_promote`, the one promotion.
- `labeling_queue`: `labeling_queue_refresh_request` (the orderings are the worker's).
- `suggestions`: `suggestion_accept` (one image, the labeling page's Enter) and
  `suggestions_accept_bulk` (the grid and the API), the model's suggestions accepted as the
  user's annotations.
- `predictions`: `prediction_job_start`, `project_predictions_refresh`, `AdHocFile`, and
  `_new_images_predict`, the receiver of labeling's images_created signal.

Services write rows and send messages after commit. Nothing here imports TensorFlow or the
worker code (classifier.worker imports this package, never the other way round).
"""

from classifier.ml.hyperparameters import Hyperparameters
from classifier.services.jobs import (
    AD_HOC_FILES_GRACE,
    BROKER_UNREACHABLE_NOTE,
    jobs_dispatch_unsent,
    jobs_reconcile,
    jobs_recover_orphans,
)
from classifier.services.labeling_queue import labeling_queue_refresh_request
from classifier.services.predictions import (
    AdHocFile,
    _new_images_predict,
    prediction_job_start,
    project_predictions_refresh,
)
from classifier.services.suggestions import (
    SuggestionsAccepted,
    suggestion_accept,
    suggestions_accept_bulk,
)
from classifier.services.training import (
    TrainingSet,
    training_run_cancel,
    training_run_finish,
    training_run_start,
    training_set_for,
)
from classifier.services.versions import model_version_activate, model_version_promote

# The defaults a run fills in, for callers that list them.
DEFAULT_HYPERPARAMETERS = Hyperparameters().as_dict()

__all__ = [
    "AD_HOC_FILES_GRACE",
    "BROKER_UNREACHABLE_NOTE",
    "DEFAULT_HYPERPARAMETERS",
    "AdHocFile",
    "SuggestionsAccepted",
    "TrainingSet",
    "_new_images_predict",
    "jobs_dispatch_unsent",
    "jobs_reconcile",
    "jobs_recover_orphans",
    "labeling_queue_refresh_request",
    "model_version_activate",
    "model_version_promote",
    "prediction_job_start",
    "project_predictions_refresh",
    "suggestion_accept",
    "suggestions_accept_bulk",
    "training_run_cancel",
    "training_run_finish",
    "training_run_start",
    "training_set_for",
]
