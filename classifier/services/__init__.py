"""Writes on the classifier side: training runs, model versions, prediction jobs.

One module per subsystem; the names the web (views, API, admin, the retrain command) and the
workers call are re-exported here, so callers write `from classifier import services` and
`services.training_run_start(...)`:

- `jobs`: a job row first, then its message by task name; failure, staleness, orphans and
  the periodic reconciliation. `jobs_dispatch_unsent`, `jobs_recover_orphans`,
  `jobs_reconcile`, `BROKER_UNREACHABLE_NOTE`, `AD_HOC_FILES_GRACE`, `ARTIFACT_ORPHAN_GRACE`.
- `training`: `training_run_start`, `training_run_cancel`, `training_run_finish` (the end of
  a run, called by the worker), the training set (`TrainingSet`, `training_set_for`), the
  backbone (`backbone_for`, `backbone_choices`) and `DEFAULT_HYPERPARAMETERS` (from
  classifier.ml.hyperparameters).
- `versions`: `model_version_activate`, `model_version_pin`, `promotion_gate` (whether a new
  version replaces the active one) and `model_version_promote`, the one promotion.
- `exports`: `model_export_start` (web) and `model_export_finish` (the worker's hand-over).
- `project_settings`: `project_classifier_settings_update` (backbone, recall margin, unsure
  threshold of a project).
- `health`: `health_check_start`, `health_check_finish` (called by the worker),
  `label_error_keep`, `label_error_relabel`, `split_leaks_fix`: data health.
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
from classifier.services.exports import model_export_finish, model_export_start
from classifier.services.health import (
    HealthFindings,
    health_check_finish,
    health_check_start,
    label_error_keep,
    label_error_relabel,
    split_leaks_fix,
)
from classifier.services.jobs import (
    AD_HOC_FILES_GRACE,
    ARTIFACT_ORPHAN_GRACE,
    BROKER_UNREACHABLE_NOTE,
    jobs_dispatch_unsent,
    jobs_reconcile,
    jobs_recover_orphans,
)
from classifier.services.labeling_queue import labeling_queue_refresh_request
from classifier.services.predictions import (
    AdHocFile,
    AdHocFilesNotStored,
    _new_images_predict,
    prediction_job_start,
    project_predictions_refresh,
)
from classifier.services.project_settings import (
    CLASSIFIER_SETTINGS,
    project_classifier_settings_update,
)
from classifier.services.suggestions import (
    SuggestionsAccepted,
    suggestion_accept,
    suggestions_accept_bulk,
)
from classifier.services.training import (
    TrainingSet,
    backbone_choices,
    backbone_for,
    training_run_cancel,
    training_run_finish,
    training_run_start,
    training_set_for,
)
from classifier.services.versions import (
    model_version_activate,
    model_version_pin,
    model_version_promote,
    promotion_gate,
)

# The defaults a run fills in, for callers that list them.
DEFAULT_HYPERPARAMETERS = Hyperparameters().as_dict()

__all__ = [
    "AD_HOC_FILES_GRACE",
    "ARTIFACT_ORPHAN_GRACE",
    "BROKER_UNREACHABLE_NOTE",
    "CLASSIFIER_SETTINGS",
    "DEFAULT_HYPERPARAMETERS",
    "AdHocFile",
    "AdHocFilesNotStored",
    "HealthFindings",
    "SuggestionsAccepted",
    "TrainingSet",
    "_new_images_predict",
    "backbone_choices",
    "backbone_for",
    "health_check_finish",
    "health_check_start",
    "jobs_dispatch_unsent",
    "jobs_reconcile",
    "jobs_recover_orphans",
    "label_error_keep",
    "label_error_relabel",
    "labeling_queue_refresh_request",
    "model_export_finish",
    "model_export_start",
    "model_version_activate",
    "model_version_pin",
    "model_version_promote",
    "prediction_job_start",
    "project_classifier_settings_update",
    "project_predictions_refresh",
    "promotion_gate",
    "split_leaks_fix",
    "suggestion_accept",
    "suggestions_accept_bulk",
    "training_run_cancel",
    "training_run_finish",
    "training_run_start",
    "training_set_for",
]
