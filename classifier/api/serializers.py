"""Shapes of the classifier API's requests and responses (they also document the schema)."""

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from classifier import selectors
from classifier.ml.hyperparameters import NAMES as HYPERPARAMETER_NAMES
from classifier.models import (
    DataIssue,
    DataIssueKind,
    ExportFormat,
    HealthCheck,
    JobStatus,
    ModelExport,
    ModelVersion,
    PredictionJob,
    TrainingRun,
)
from labeling.api.serializers import SuggestionSerializer
from labeling.models import Split
from labelplatform.api.serializers import JSONNumberField
from labelplatform.url_converters import DATABASE_ID_MAX


def dispatch_note(job) -> str | None:
    """Why a queued job has not reached a worker yet (the broker was down), else None."""
    if job.status == "queued" and job.enqueued_at is None and job.dispatch_error:
        return job.dispatch_error
    return None


class MetricsSummarySerializer(serializers.Serializer):
    """Every key is null when the version's metrics lack it (a version recorded without an
    evaluation)."""

    accuracy = serializers.FloatField(allow_null=True, help_text="Test accuracy")
    validation_accuracy = serializers.FloatField(allow_null=True)
    loss = serializers.FloatField(allow_null=True, help_text="Test loss")
    class_names = serializers.ListField(child=serializers.CharField(), allow_null=True)
    per_class = serializers.DictField(
        child=serializers.DictField(),
        allow_null=True,
        help_text="{class: {precision, recall, f1, support}}",
    )
    confusion_matrix = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField()),
        allow_null=True,
        help_text="Rows: true class, columns: predicted class, in class_names order.",
    )
    validation_per_class = serializers.DictField(
        child=serializers.DictField(),
        allow_null=True,
        help_text="{class: {precision, recall, f1, support}} on the validation split: what "
        "the promotion gate compares.",
    )
    split = serializers.CharField(help_text="The split `per_class` was measured on: test.")


class ReliabilityBinSerializer(serializers.Serializer):
    lower = serializers.FloatField()
    upper = serializers.FloatField()
    count = serializers.IntegerField()
    confidence = serializers.FloatField(allow_null=True, help_text="Mean confidence in the bin")
    accuracy = serializers.FloatField(allow_null=True, help_text="Share right in the bin")


class CalibrationSerializer(serializers.Serializer):
    """Null figures for a version made before calibration existed."""

    temperature = serializers.FloatField(
        allow_null=True, help_text="Fitted on the validation split; confidences use it."
    )
    ece_before = serializers.FloatField(
        allow_null=True, help_text="Expected calibration error on the test split, 15 bins, T=1"
    )
    ece_after = serializers.FloatField(allow_null=True, help_text="The same with the temperature")
    unsure_threshold = serializers.FloatField(
        allow_null=True,
        help_text="The version's default 'unsure' threshold: the lowest confidence at which "
        "every class keeps a test precision of at least 99%.",
    )
    reliability = ReliabilityBinSerializer(
        many=True, allow_null=True, help_text="The reliability diagram after calibration"
    )


class PromotionSerializer(serializers.Serializer):
    decision = serializers.CharField(
        allow_null=True, help_text="promoted | held (kept as a candidate) | activated (by a user)"
    )
    reason = serializers.CharField(allow_null=True)


# JSON columns are written as they are stored (a float field would turn an image count into
# 12.0); these say their shapes in the schema, so that clients get types, not bare objects.
@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {"type": "object", "additionalProperties": {"type": "integer"}},
    }
)
class TrainingSetCountsField(serializers.JSONField):
    """{split: {class name: labeled images}}"""


@extend_schema_field({"type": "object", "additionalProperties": {"type": "number"}})
class TimingsField(serializers.JSONField):
    """{step: a number}"""


class RunHyperparametersSerializer(serializers.Serializer):
    """The overrides a run was started with (absent: the default), and its backbone. For the
    schema only (TrainingRunSerializer writes the stored object as it is)."""

    learning_rate = serializers.FloatField(required=False)
    batch_size = serializers.IntegerField(required=False)
    max_epochs = serializers.IntegerField(required=False)
    patience = serializers.IntegerField(required=False)
    seed = serializers.IntegerField(required=False)
    fine_tune_blocks = serializers.IntegerField(required=False)
    head = serializers.CharField(required=False)
    backbone = serializers.CharField(required=False)


class DataIssueDetailSerializer(serializers.Serializer):
    """What a data issue found, by kind (absent keys belong to other kinds). For the schema
    only (DataIssueSerializer writes the stored object as it is)."""

    given_label = serializers.CharField(required=False, help_text="label_error")
    given_label_id = serializers.IntegerField(required=False, help_text="label_error")
    given_probability = serializers.FloatField(required=False, help_text="label_error: out of fold")
    suggested_label = serializers.CharField(required=False, help_text="label_error")
    suggested_label_id = serializers.IntegerField(required=False, help_text="label_error")
    suggested_probability = serializers.FloatField(
        required=False, help_text="label_error: out of fold"
    )
    pairs = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField(), min_length=3, max_length=3),
        required=False,
        help_text="near_duplicate, split_leak: [image id, image id, cosine similarity]",
    )
    splits = serializers.DictField(
        child=serializers.ChoiceField(choices=Split.choices),
        required=False,
        help_text="near_duplicate, split_leak: {image id: split}",
    )
    problems = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="low_quality: blank, nearly uniform, very blurry, tiny",
    )
    luminance_std = serializers.FloatField(required=False, help_text="low_quality")
    laplacian_variance = serializers.FloatField(required=False, help_text="low_quality")
    width = serializers.IntegerField(required=False, help_text="low_quality")
    height = serializers.IntegerField(required=False, help_text="low_quality")


@extend_schema_field(RunHyperparametersSerializer)
class RunHyperparametersField(serializers.JSONField):
    pass


@extend_schema_field(DataIssueDetailSerializer)
class DataIssueDetailField(serializers.JSONField):
    pass


class ModelVersionSerializer(serializers.ModelSerializer):
    """A version with the metrics the Models page and API clients compare."""

    metrics = serializers.SerializerMethodField()
    calibration = serializers.SerializerMethodField()
    promotion = serializers.SerializerMethodField()
    created = serializers.DateTimeField(source="created_at")
    counts = TrainingSetCountsField(
        read_only=True, help_text="{split: {class name: labeled images}} of its training set."
    )

    class Meta:
        model = ModelVersion
        fields = [
            "id", "version", "status", "status_reason", "pinned", "backbone", "metrics",
            "calibration", "promotion", "validation_accuracy", "test_accuracy", "counts",
            "training_set_fingerprint", "created",
        ]  # fmt: skip

    @extend_schema_field(MetricsSummarySerializer)
    def get_metrics(self, version: ModelVersion) -> dict:
        keys = [key for key in MetricsSummarySerializer().fields if key != "split"]
        return {**{key: version.metrics.get(key) for key in keys}, "split": "test"}

    @extend_schema_field(CalibrationSerializer)
    def get_calibration(self, version: ModelVersion) -> dict:
        calibration = version.calibration or {}
        return {
            "temperature": calibration.get("temperature"),
            "ece_before": calibration.get("ece_before"),
            "ece_after": calibration.get("ece_after"),
            "unsure_threshold": calibration.get("unsure_threshold"),
            "reliability": calibration.get("reliability_after"),
        }

    @extend_schema_field(PromotionSerializer)
    def get_promotion(self, version: ModelVersion) -> dict:
        return {
            "decision": version.promotion_decision or None,
            "reason": version.promotion_reason or None,
        }


class ModelVersionOfRunSerializer(serializers.ModelSerializer):
    """The version a run produced, with every metric (history per epoch, timings, ...)."""

    class Meta:
        model = ModelVersion
        fields = ["id", "version", "status", "status_reason", "metrics"]


class TrainingRunSerializer(serializers.ModelSerializer):
    model_version = serializers.SerializerMethodField()
    note = serializers.SerializerMethodField(
        help_text="Set while the job could not be sent to a worker (the queue was down)."
    )
    created = serializers.DateTimeField(source="created_at")
    started = serializers.DateTimeField(source="started_at", allow_null=True)
    finished = serializers.DateTimeField(source="finished_at", allow_null=True)
    hyperparameters = RunHyperparametersField(read_only=True)

    class Meta:
        model = TrainingRun
        fields = [
            "id", "project", "status", "progress", "phase", "epoch", "error", "note",
            "hyperparameters", "worker", "created", "started", "finished", "model_version",
        ]  # fmt: skip

    @extend_schema_field(ModelVersionOfRunSerializer(allow_null=True))
    def get_model_version(self, run: TrainingRun) -> dict | None:
        version = getattr(run, "model_version", None)
        return ModelVersionOfRunSerializer(version).data if version else None

    def get_note(self, run: TrainingRun) -> str | None:
        return dispatch_note(run)


class PredictionResultSerializer(serializers.Serializer):
    image_id = serializers.IntegerField(required=False, help_text="Stored images")
    name = serializers.CharField(required=False, help_text="Ad-hoc files: the uploaded name")
    # The metaclass moves declared fields into _declared_fields, so this `label` never
    # shadows Field.label (a field's own title), which the stubs cannot tell.
    label = serializers.CharField(allow_null=True)  # type: ignore[assignment]
    confidence = serializers.FloatField()
    unsure = serializers.BooleanField(
        help_text="The confidence is below the project's unsure threshold."
    )
    probabilities = serializers.DictField(child=serializers.FloatField())


class PredictionJobSerializer(serializers.ModelSerializer):
    results = serializers.SerializerMethodField()
    note = serializers.SerializerMethodField(
        help_text="Set while the job could not be sent to a worker (the queue was down)."
    )
    created = serializers.DateTimeField(source="created_at")
    started = serializers.DateTimeField(source="started_at", allow_null=True)
    finished = serializers.DateTimeField(source="finished_at", allow_null=True)
    timings = TimingsField(
        read_only=True, help_text="Milliseconds per step (load_model_ms, read_ms, ...)."
    )

    class Meta:
        model = PredictionJob
        fields = [
            "id", "project", "model_version", "kind", "status", "progress", "total", "done",
            "error", "note", "timings", "created", "started", "finished", "results",
        ]  # fmt: skip

    @extend_schema_field(PredictionResultSerializer(many=True))
    def get_results(self, job: PredictionJob) -> list[dict]:
        return selectors.prediction_job_results(job=job)

    def get_note(self, job: PredictionJob) -> str | None:
        return dispatch_note(job)


class JobCreatedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=JobStatus.choices)
    note = serializers.CharField(allow_null=True)


class ModelVersionBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = ModelVersion
        fields = ["id", "version", "status"]


class ImagePredictionSerializer(serializers.Serializer):
    model_version = ModelVersionBriefSerializer()
    # A declared field, not Field.label: see PredictionResultSerializer.
    label = serializers.CharField(  # type: ignore[assignment]
        source="label.name", allow_null=True, default=None
    )
    confidence = serializers.FloatField(help_text="Calibrated probability of the top class")
    unsure = serializers.BooleanField(
        help_text="The confidence is below the project's unsure threshold."
    )
    probabilities = serializers.DictField(child=serializers.FloatField())
    created = serializers.DateTimeField(source="created_at")


class StrictBooleanField(serializers.BooleanField):
    """JSON true or false only: DRF's BooleanField also takes 0, 1, "yes", ..., which the
    schema (type boolean) does not allow, and a client sending them has a bug worth a 400."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictFloatField(serializers.FloatField):
    """A JSON number only: DRF's FloatField also takes false (as 0.0) and numeric strings."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        return super().to_internal_value(data)


class ModelVersionPinSerializer(serializers.Serializer):
    pinned = StrictBooleanField(
        help_text="true: activate the version (if it is not) and keep it active until "
        "unpinned, whatever later training runs score; false: automatic promotion resumes."
    )


class TrainingRunStartSerializer(serializers.Serializer):
    hyperparameters = serializers.DictField(
        required=False,
        help_text=f"Optional overrides of {sorted(HYPERPARAMETER_NAMES)}.",
    )
    backbone = serializers.CharField(
        required=False,
        max_length=64,
        help_text="The pretrained network to embed with (default: the project's, else the "
        "platform's). An unknown name is a 400 listing the valid ones.",
    )


class PredictImagesSerializer(serializers.Serializer):
    image_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=DATABASE_ID_MAX),
        min_length=1,
        max_length=10_000,
    )


class PredictFilesSerializer(serializers.Serializer):
    files = serializers.ListField(
        child=serializers.FileField(),
        min_length=1,
        help_text="One or many image files. Predicted, never stored as training data.",
    )


class ProjectClassifierSettingsSerializer(serializers.Serializer):
    backbone = serializers.CharField(
        max_length=64,
        allow_blank=True,
        help_text="The pretrained network new training runs embed with; empty: the platform's "
        "default. An unknown name is a 400 listing the valid ones.",
    )
    promotion_recall_margin = StrictFloatField(
        min_value=0.0,
        max_value=1.0,
        help_text="A new version becomes active only if no class's validation recall drops by "
        "more than this (0.02 = 2 points).",
    )
    unsure_threshold = StrictFloatField(
        min_value=0.0,
        max_value=1.0,
        allow_null=True,
        help_text="Predictions less confident than this are unsure; null: each version's "
        "default (the lowest confidence keeping every class's test precision at 99% or more).",
    )


class ProjectClassifierSettingsReadSerializer(ProjectClassifierSettingsSerializer):
    backbone_used = serializers.CharField(
        read_only=True, help_text="What the next training run embeds with."
    )
    backbone_choices = serializers.ListField(child=serializers.CharField(), read_only=True)


class ModelExportStartSerializer(serializers.Serializer):
    format = serializers.ChoiceField(
        choices=ExportFormat.choices,
        help_text="keras: one .keras model (backbone, head and calibration; RGB 0-255 in, "
        "calibrated probabilities out); tflite: the same as TensorFlow Lite.",
    )


class ModelExportSerializer(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField(
        help_text="The model file, once the export has succeeded (members; the API token works)."
    )
    bundle_url = serializers.SerializerMethodField(
        help_text="The zip beside it: labels, preprocessing, metrics, a ten-line example."
    )
    note = serializers.SerializerMethodField(
        help_text="Set while the job could not be sent to a worker (the queue was down)."
    )
    created = serializers.DateTimeField(source="created_at")
    finished = serializers.DateTimeField(source="finished_at", allow_null=True)

    class Meta:
        model = ModelExport
        fields = [
            "id", "model_version", "format", "status", "progress", "error", "note",
            "download_url", "bundle_url", "created", "finished",
        ]  # fmt: skip

    def _url(self, export: ModelExport, part: str) -> str | None:
        from django.urls import reverse

        if export.status != "succeeded":
            return None
        path = reverse("classifier:model-export-file", args=[export.pk, part])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path

    def get_download_url(self, export: ModelExport) -> str | None:
        return self._url(export, "model")

    def get_bundle_url(self, export: ModelExport) -> str | None:
        return self._url(export, "bundle")

    def get_note(self, export: ModelExport) -> str | None:
        return dispatch_note(export)


# --- Data health ---------------------------------------------------------------------------


class HealthCheckSerializer(serializers.ModelSerializer):
    note = serializers.SerializerMethodField(
        help_text="Set while the job could not be sent to a worker (the queue was down)."
    )
    counts = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="Findings per kind once it has succeeded: label_error, near_duplicate, "
        "split_leak, low_quality.",
    )
    timings = TimingsField(
        read_only=True, help_text="Seconds per step (*_s), and the images checked."
    )
    created = serializers.DateTimeField(source="created_at")
    started = serializers.DateTimeField(source="started_at", allow_null=True)
    finished = serializers.DateTimeField(source="finished_at", allow_null=True)

    class Meta:
        model = HealthCheck
        fields = [
            "id", "project", "trigger", "status", "progress", "error", "note", "counts",
            "timings", "worker", "created", "started", "finished",
        ]  # fmt: skip

    def get_note(self, check: HealthCheck) -> str | None:
        return dispatch_note(check)


class DataIssueSerializer(serializers.ModelSerializer):
    image_ids = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="label_error and low_quality: the one image; near_duplicate and split_leak: "
        "the group's images.",
    )
    detail = DataIssueDetailField(read_only=True)

    class Meta:
        model = DataIssue
        fields = ["id", "kind", "score", "image_ids", "detail"]


class DataIssueListSerializer(serializers.Serializer):
    results = DataIssueSerializer(many=True)


class DataIssueFilterSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=DataIssueKind.choices, required=False)


class SplitLeaksFixSerializer(serializers.Serializer):
    split = serializers.ChoiceField(
        choices=Split.choices,
        default=Split.TRAIN,
        help_text="The split preferred for each leaked group: it moves there when one of its "
        "images is there, else into the first of train, validation, test that holds one.",
    )


class SplitLeaksFixedSerializer(serializers.Serializer):
    moved = serializers.IntegerField(help_text="Images whose split changed.")


class LabelingQueueQuerySerializer(serializers.Serializer):
    """The queue's query parameters."""

    strategy = serializers.CharField(
        required=False,
        help_text="The order: " + ", ".join(selectors.STRATEGIES) + ". Default: the project's.",
    )
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=100, default=10, help_text="How many images."
    )

    def validate_strategy(self, value: str) -> str:
        if value not in selectors.STRATEGIES:
            raise serializers.ValidationError(
                f"Unknown strategy {value!r}; use one of: {', '.join(selectors.STRATEGIES)}."
            )
        return value


class QueuedImageSerializer(serializers.Serializer):
    """A queued image, with what a client needs to label it: its file's URL (members only;
    the same token opens it) and name."""

    id = serializers.IntegerField(source="image.pk")
    original_name = serializers.CharField(source="image.original_name")
    url = serializers.SerializerMethodField(help_text="The image file (members only).")
    split = serializers.CharField(source="image.split")
    suggestion = SuggestionSerializer(
        allow_null=True, help_text="The active version's prediction; null without one."
    )
    reason = serializers.CharField(
        help_text='Why it is next, e.g. "The model is unsure: 52% coffee".'
    )

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, queued) -> str:
        path = reverse("labeling:image-file", args=[queued.image.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class LabelingQueueSerializer(serializers.Serializer):
    strategy = serializers.ChoiceField(choices=list(selectors.STRATEGIES))
    results = QueuedImageSerializer(many=True)


class SuggestionsAcceptSerializer(serializers.Serializer):
    image_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=DATABASE_ID_MAX),
        required=False,
        min_length=1,
        max_length=10_000,
        help_text="Accept the suggestions of these images.",
    )
    min_confidence = JSONNumberField(
        required=False,
        min_value=0,
        max_value=1,
        help_text="Accept every suggestion at least this confident (0-1).",
    )
    split = serializers.ChoiceField(
        choices=Split.choices, required=False, help_text="Only images of this split."
    )

    def validate(self, data):
        if "image_ids" not in data and "min_confidence" not in data:
            raise serializers.ValidationError("Give image_ids, min_confidence, or both.")
        return data


class SuggestionsAcceptedSerializer(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="Images now labeled as suggested, by you.")
    skipped = serializers.IntegerField(
        help_text="Images asked for (or predicted at or above min_confidence) that were not: "
        "already labeled by you or settled, on a split labeled blind, not of this project, "
        "or without a prediction of the active version."
    )
    batch = serializers.IntegerField(
        help_text="POST /api/annotation-batches/{batch}/undo/ takes the action back."
    )
