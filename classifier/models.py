"""Training runs, model versions, predictions, prediction jobs and the embedding cache.

Jobs are rows: a `TrainingRun` or `PredictionJob` holds the status, progress, timings and
error a user sees; the Celery message only carries its id. The dispatch fields
(`enqueued_at`, `dispatch_error`, `dispatch_attempts`) record whether that message reached
the broker, so a job asked for while Redis was down is visible as "not sent yet" and is
re-sent later instead of being lost (classifier.services.jobs_dispatch_unsent).
"""

from django.conf import settings
from django.db import models

from labeling.models import Image, LabelClass, Project


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


# Statuses of a job that is not finished yet; at most one training run per project is in one.
UNFINISHED_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)


class Job(models.Model):
    """What a training run and a prediction job share: the row a user watches."""

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0, help_text="0-100")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Dispatch bookkeeping. `enqueued_at` is set once the broker accepted the message; a
    # queued job without it was never sent (Redis down) and is re-sent when asked again or
    # when a worker starts. `dispatch_error` says why the last attempt failed.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    dispatch_attempts = models.PositiveSmallIntegerField(default=0)
    dispatch_error = models.TextField(blank=True)
    celery_task_id = models.CharField(max_length=64, blank=True)
    # The Celery node name (e.g. "training@host") that ran or is running the job, and when
    # it last showed signs of life: a running job whose heartbeat is older than
    # CLASSIFIER_JOB_HEARTBEAT_TIMEOUT has lost its worker.
    worker = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # How many times a worker has started this job. A job whose worker dies under it is run
    # again, but a job that kills its worker every time (an image that runs it out of memory)
    # would be re-run forever: past CLASSIFIER_JOB_MAX_RUNS it is failed instead
    # (classifier.services.jobs.job_worker_lost).
    runs = models.PositiveSmallIntegerField(default=0)

    class Meta:
        abstract = True

    @property
    def is_finished(self) -> bool:
        return self.status not in UNFINISHED_STATUSES

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None


class TrainingPhase(models.TextChoices):
    EMBEDDING = "embedding", "Embedding"
    TRAINING = "training", "Training"
    EVALUATING = "evaluating", "Evaluating"


class TrainingRun(Job):
    """One retraining of a project's classifier head; produces at most one ModelVersion."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="training_runs")
    phase = models.CharField(max_length=16, choices=TrainingPhase.choices, blank=True)
    epoch = models.PositiveIntegerField(default=0)
    hyperparameters = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One training at a time per project. The service also takes the project's row
            # lock; this index is the guarantee if anything bypasses it.
            models.UniqueConstraint(
                fields=["project"],
                condition=models.Q(status__in=UNFINISHED_STATUSES),
                name="trainingrun_one_unfinished_per_project",
            ),
            models.CheckConstraint(
                condition=models.Q(progress__lte=100), name="trainingrun_progress_max_100"
            ),
        ]
        indexes = [models.Index(fields=["status", "enqueued_at"])]

    def __str__(self) -> str:
        return f"Training run {self.pk} of {self.project} ({self.status})"


class ModelVersionStatus(models.TextChoices):
    CANDIDATE = "candidate", "Candidate"
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"


class PromotionDecision(models.TextChoices):
    PROMOTED = "promoted", "Promoted automatically"
    HELD = "held", "Kept as a candidate"
    ACTIVATED = "activated", "Activated by a user"


def model_artifact_upload_to(version: "ModelVersion", filename: str) -> str:
    return f"projects/{version.project_id}/models/v{version.version}-{filename}"


class ModelVersion(models.Model):
    """A trained head on a frozen backbone, stored through Django's storage API.

    `class_ids` lists the LabelClass ids in the order of the head's outputs, so renaming a
    class later does not shuffle predictions. `metrics` holds what classifier.ml.evaluate
    returns on the test split (accuracy, loss, per_class, confusion_matrix, class_names) plus
    "history" (per epoch), "best_epoch" and "validation_accuracy".
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="model_versions")
    version = models.PositiveIntegerField()
    backbone = models.CharField(max_length=64)
    artifact = models.FileField(upload_to=model_artifact_upload_to, max_length=300)
    class_ids = models.JSONField(default=list)
    metrics = models.JSONField(default=dict, blank=True)
    # Denormalised from metrics: promotion compares validation accuracy, pages sort by both.
    validation_accuracy = models.FloatField(null=True, blank=True)
    test_accuracy = models.FloatField(null=True, blank=True)
    hyperparameters = models.JSONField(default=dict, blank=True)
    # {split: {class name: number of images}} of the labeled images it was trained on.
    counts = models.JSONField(default=dict, blank=True)
    # sha256 over the sorted (image sha256, split, class) triples: equal sets, equal prints.
    training_set_fingerprint = models.CharField(max_length=64, blank=True)
    training_run = models.OneToOneField(
        TrainingRun,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="model_version",
    )
    status = models.CharField(
        max_length=16, choices=ModelVersionStatus.choices, default=ModelVersionStatus.CANDIDATE
    )
    # Why it has its status, e.g. "validation accuracy 0.94 did not beat active v2's 0.96".
    status_reason = models.CharField(max_length=300, blank=True)
    # What the promotion gate decided when the version was made (or a user's activation), and
    # why: unlike status_reason it stays when the version is retired later.
    promotion_decision = models.CharField(
        max_length=16, choices=PromotionDecision.choices, blank=True
    )
    promotion_reason = models.CharField(max_length=500, blank=True)
    # A pinned active version is never replaced automatically (owners pin; a user's activation
    # of another version still replaces it).
    pinned = models.BooleanField(default=False)
    # {"temperature", "ece_before", "ece_after", "reliability_before", "reliability_after",
    # "unsure_threshold", "split"}: how the confidences were calibrated and measured
    # (classifier.worker.training._calibration). Empty for versions made before calibration.
    calibration = models.JSONField(default=dict, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    activated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "version"], name="modelversion_unique_version"
            ),
            models.UniqueConstraint(
                fields=["project"],
                condition=models.Q(status=ModelVersionStatus.ACTIVE),
                name="modelversion_one_active_per_project",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project} v{self.version} ({self.status})"


class Prediction(models.Model):
    """One model version's prediction for one stored image."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="predictions")
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="predictions"
    )
    # The top class. Null only if that class was deleted after the prediction was made.
    label = models.ForeignKey(
        LabelClass, on_delete=models.SET_NULL, null=True, blank=True, related_name="predictions"
    )
    confidence = models.FloatField(help_text="Probability of the top class, 0-1")
    probabilities = models.JSONField(default=dict, help_text="{class name: probability}")
    created_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["image", "-model_version_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["image", "model_version"], name="prediction_unique_image_version"
            ),
        ]
        indexes = [
            # "Most uncertain first" in the labeling queue and confidence ranges in the gallery.
            models.Index(fields=["model_version", "confidence"]),
            # Gallery filters: predicted class (and confidence within it).
            models.Index(fields=["model_version", "label", "confidence"]),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.confidence:.2f}) for image {self.image_id}"


class PredictionTally(models.Model):
    """How many predictions each model version has: a count kept by the database, so the
    dashboard's "predicted n / N" never counts a large project's predictions in a request.

    On PostgreSQL, triggers on the predictions table keep these rows (migration 0008), as
    labeling's ImageTally is kept: every insert, update and delete, whoever makes it (the
    prediction worker's upserts, which count only the rows they insert; cascades from a
    deleted image, version or project), adds its net change in the same transaction.
    Elsewhere (SQLite, small projects) the rows stay empty and the selector counts the
    predictions (classifier.selectors.versions). A plain integer, no foreign key: a deleted
    version's row falls to zero and stays, a few bytes.
    """

    model_version_id = models.IntegerField(unique=True)
    count = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.count} predictions of version {self.model_version_id}"


class PredictionJobKind(models.TextChoices):
    NEW_IMAGES = "new_images", "New images"
    REPREDICT = "repredict", "Re-prediction after activation"
    SELECTED = "selected", "Selected images"
    AD_HOC = "ad_hoc", "Ad-hoc files"


class PredictionJob(Job):
    """Predict stored images (writing Prediction rows) or ad-hoc files (results in the row).

    Ad-hoc files are not training data: they are stored temporarily through the storage API
    under jobs/ (`inputs`: [{"name", "path"}]) and deleted when the job finishes.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="prediction_jobs")
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="prediction_jobs"
    )
    kind = models.CharField(max_length=16, choices=PredictionJobKind.choices)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    image_ids = models.JSONField(default=list, blank=True)
    inputs = models.JSONField(default=list, blank=True)
    # Ad-hoc jobs only: [{"name", "label", "confidence", "probabilities"}]. Stored images'
    # results are their Prediction rows.
    results = models.JSONField(default=list, blank=True)
    # Where the time went, in milliseconds: {"load_model", "read", "inference", "write"}.
    timings = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(progress__lte=100), name="predictionjob_progress_max_100"
            ),
        ]
        indexes = [models.Index(fields=["status", "enqueued_at"])]

    def __str__(self) -> str:
        return f"Prediction job {self.pk} ({self.get_kind_display()}, {self.status})"


class Embedding(models.Model):
    """The embedding cache: a backbone's output for an image's content, shared by all workers.

    Keyed by (image sha256, backbone) so a retrain embeds only images it has not seen, and
    the same picture in two projects is embedded once. The vector is float32 little-endian
    bytes (1280 floats = 5 KB for EfficientNet-Lite0). A table rather than files in storage:
    one indexed query fetches a whole training set, rows are written in the same unit as
    everything else, and every worker sees them without a shared disk.
    """

    sha256 = models.CharField(max_length=64)
    backbone = models.CharField(max_length=64)
    dim = models.PositiveIntegerField()
    vector = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["sha256", "backbone"], name="embedding_unique_sha256_backbone"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.backbone} embedding of {self.sha256[:8]}"


class ExportFormat(models.TextChoices):
    KERAS = "keras", "Keras (.keras)"
    TFLITE = "tflite", "TensorFlow Lite (.tflite)"


def model_export_upload_to(export: "ModelExport", filename: str) -> str:
    version = export.model_version
    return f"projects/{version.project_id}/exports/v{version.version}-{export.format}-{filename}"


class ModelExport(Job):
    """A model version as a self-contained file (classifier.ml.export), built by a training
    worker (the web never loads TensorFlow) and kept: one row per (version, format), so a
    second request for the same export returns this one. `file` is the model (backbone, head
    and calibration, RGB in); `bundle` the zip with labels, preprocessing, metrics and an
    example. Served like other media: members of the project only."""

    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="exports"
    )
    format = models.CharField(max_length=16, choices=ExportFormat.choices)
    file = models.FileField(upload_to=model_export_upload_to, max_length=300, blank=True)
    bundle = models.FileField(upload_to=model_export_upload_to, max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["model_version", "format"], name="modelexport_one_per_version_format"
            ),
            models.CheckConstraint(
                condition=models.Q(progress__lte=100), name="modelexport_progress_max_100"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_format_display()} export of {self.model_version} ({self.status})"


class HealthCheckTrigger(models.TextChoices):
    AFTER_TRAINING = "after_training", "After a training run"
    ON_DEMAND = "on_demand", "On demand"


class HealthCheck(Job):
    """One data-health check of a project (classifier.worker.health): suspected label errors,
    near-duplicates, split leaks and low-quality images, written as DataIssue rows that
    replace the previous check's. Runs on a "training" worker, over the cached embeddings."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="health_checks")
    trigger = models.CharField(
        max_length=16, choices=HealthCheckTrigger.choices, default=HealthCheckTrigger.ON_DEMAND
    )
    # What it found, {kind: number of issues}, and where the time went, in seconds.
    counts = models.JSONField(default=dict, blank=True)
    timings = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One check at a time per project: a second request returns the queued one.
            models.UniqueConstraint(
                fields=["project"],
                condition=models.Q(status__in=UNFINISHED_STATUSES),
                name="healthcheck_one_unfinished_per_project",
            ),
            models.CheckConstraint(
                condition=models.Q(progress__lte=100), name="healthcheck_progress_max_100"
            ),
        ]
        indexes = [models.Index(fields=["status", "enqueued_at"])]

    def __str__(self) -> str:
        return f"Health check {self.pk} of {self.project} ({self.status})"


class DataIssueKind(models.TextChoices):
    LABEL_ERROR = "label_error", "Suspected label error"
    NEAR_DUPLICATE = "near_duplicate", "Near-duplicate group"
    SPLIT_LEAK = "split_leak", "Split leak"
    LOW_QUALITY = "low_quality", "Low-quality image"


class DataIssue(models.Model):
    """One finding of a health check. `image_ids` holds the one image (label_error,
    low_quality) or the group (near_duplicate, split_leak: a group of near-duplicates, and a
    leak is such a group spread over more than one split). `score` orders each kind, higher
    first: 1 - the out-of-fold probability of the given label, the group's highest cosine
    similarity, or how many problems a picture has. `detail` by kind:

    - label_error: given_label_id, given_label, suggested_label_id, suggested_label,
      suggested_probability, given_probability;
    - near_duplicate / split_leak: pairs [[id, id, similarity]], splits {id: split};
    - low_quality: problems [...] and the measures behind them.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="data_issues")
    health_check = models.ForeignKey(HealthCheck, on_delete=models.CASCADE, related_name="issues")
    kind = models.CharField(max_length=16, choices=DataIssueKind.choices)
    score = models.FloatField()
    image_ids = models.JSONField(default=list)
    # The image of a one-image issue: the review queue joins it, and deleting the image
    # deletes its issue.
    image = models.ForeignKey(
        Image, on_delete=models.CASCADE, null=True, blank=True, related_name="data_issues"
    )
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["project", "kind", "-score", "id"]
        indexes = [models.Index(fields=["project", "kind", "score"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.score:.2f}) in project {self.project_id}"


class LabelCheckDecision(models.TextChoices):
    KEPT = "kept", "Label kept"
    RELABELED = "relabeled", "Relabeled"


class LabelCheckReview(models.Model):
    """An owner's answer to a suspected label error. A "kept" label is not suggested again
    while the image keeps that label (`label`); a relabel is also an owner's review of the
    image (labeling.services.image_review)."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="label_checks")
    label = models.ForeignKey(LabelClass, on_delete=models.CASCADE, related_name="+")
    decision = models.CharField(max_length=16, choices=LabelCheckDecision.choices)
    suggested_label = models.ForeignKey(
        LabelClass, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["image", "decision", "label"])]

    def __str__(self) -> str:
        return f"{self.get_decision_display()} {self.label} on image {self.image_id}"


class PictureMeasures(models.Model):
    """The health check's cache of what it measures on a picture's thumbnail, keyed by the
    image's sha256 like the embedding cache: its perceptual hashes (ImageHash's pHash of the
    picture and of its mirror image, 16 hex digits each) and its quality measures
    (classifier.ml.data_health.quality_measures). A check reads each thumbnail once, ever."""

    sha256 = models.CharField(max_length=64, unique=True)
    perceptual_hash = models.CharField(max_length=16)
    mirrored_hash = models.CharField(max_length=16)
    luminance_std = models.FloatField()
    laplacian_variance = models.FloatField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "picture measures"

    def __str__(self) -> str:
        return f"Measures of {self.sha256[:8]}"


class LabelingQueuePlace(models.Model):
    """One image's place in a project's labeling queue for one strategy, as the prediction
    worker last computed it (classifier.worker.labeling_queue).

    The queue reads these in rank order, off the (project, strategy, rank) index, and skips
    the few that were labeled since: it never ranks the project's images in a request. Only
    the images that needed labels at computing time, and at most
    CLASSIFIER_LABELING_QUEUE_DEPTH per strategy; past them the queue goes on in upload order.
    `label` and `confidence` are the prediction the ranking was based on and `score` the
    strategy's own figure (margin, entropy, ...), so a page can say why the image is next.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    strategy = models.CharField(max_length=32)
    rank = models.PositiveIntegerField()
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="+")
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    label = models.ForeignKey(
        LabelClass, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    confidence = models.FloatField(null=True, blank=True)
    score = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["project", "strategy", "rank"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "strategy", "rank"], name="labelingqueueplace_unique_rank"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.strategy} #{self.rank}: image {self.image_id}"
