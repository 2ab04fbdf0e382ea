"""Shapes of the classifier API's requests and responses (they also document the schema)."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from classifier import selectors
from classifier.ml.hyperparameters import NAMES as HYPERPARAMETER_NAMES
from classifier.models import ModelVersion, PredictionJob, TrainingRun
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


class ModelVersionSerializer(serializers.ModelSerializer):
    """A version with the metrics the Models page and API clients compare."""

    metrics = serializers.SerializerMethodField()
    created = serializers.DateTimeField(source="created_at")

    class Meta:
        model = ModelVersion
        fields = [
            "id", "version", "status", "status_reason", "backbone", "metrics",
            "validation_accuracy", "test_accuracy", "counts", "training_set_fingerprint",
            "created",
        ]  # fmt: skip

    @extend_schema_field(MetricsSummarySerializer)
    def get_metrics(self, version: ModelVersion) -> dict:
        keys = MetricsSummarySerializer().fields.keys()
        return {key: version.metrics.get(key) for key in keys}


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
    label = serializers.CharField(allow_null=True)
    confidence = serializers.FloatField()
    probabilities = serializers.DictField(child=serializers.FloatField())


class PredictionJobSerializer(serializers.ModelSerializer):
    results = serializers.SerializerMethodField()
    note = serializers.SerializerMethodField(
        help_text="Set while the job could not be sent to a worker (the queue was down)."
    )
    created = serializers.DateTimeField(source="created_at")
    started = serializers.DateTimeField(source="started_at", allow_null=True)
    finished = serializers.DateTimeField(source="finished_at", allow_null=True)

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
    status = serializers.CharField()
    note = serializers.CharField(allow_null=True)


class ModelVersionBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = ModelVersion
        fields = ["id", "version", "status"]


class ImagePredictionSerializer(serializers.Serializer):
    model_version = ModelVersionBriefSerializer()
    label = serializers.CharField(source="label.name", allow_null=True, default=None)
    confidence = serializers.FloatField()
    probabilities = serializers.DictField(child=serializers.FloatField())
    created = serializers.DateTimeField(source="created_at")


class TrainingRunStartSerializer(serializers.Serializer):
    hyperparameters = serializers.DictField(
        required=False,
        help_text=f"Optional overrides of {sorted(HYPERPARAMETER_NAMES)}.",
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


class SuggestionSerializer(serializers.Serializer):
    label = serializers.CharField(allow_null=True, help_text="The class the model predicts.")
    confidence = serializers.FloatField(help_text="Its probability, 0-1.")


class QueuedImageSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="image.pk")
    split = serializers.CharField(source="image.split")
    suggestion = SuggestionSerializer(
        allow_null=True, help_text="The active version's prediction; null without one."
    )
    reason = serializers.CharField(
        help_text='Why it is next, e.g. "The model is unsure: 52% coffee".'
    )


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
