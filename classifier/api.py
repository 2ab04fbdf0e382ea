"""The classifier API: training runs, model versions, prediction jobs, image predictions.

Thin views over classifier.services (writes) and classifier.selectors (reads). Access
follows the labeling API: anonymous 401, non-members 404 (a project's existence is not
leaked), a role too low 403 (labeling.permissions). Owners (and staff) train and activate;
annotators and owners ask for predictions; every member reads.

The two job GETs take `?wait=<seconds>` (at most selectors.WAIT_MAX_SECONDS): the answer
comes as soon as the job finishes, so clients need not poll.
"""

import math

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from classifier import selectors, services
from classifier.ml.hyperparameters import NAMES as HYPERPARAMETER_NAMES
from classifier.models import ModelVersion, PredictionJob, TrainingRun
from labeling.api.serializers import ErrorSerializer
from labeling.models import Image, Project, Role
from labeling.permissions import project_role, role_allows
from labelplatform.url_converters import DATABASE_ID_MAX

_ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input"),
    401: OpenApiResponse(ErrorSerializer, description="Not authenticated"),
    403: OpenApiResponse(ErrorSerializer, description="Your role does not allow this"),
    404: OpenApiResponse(ErrorSerializer, description="Not found, or not your project"),
}


def _errors(*codes: int) -> dict:
    return {code: _ERRORS[code] for code in codes}


WAIT_PARAMETER = OpenApiParameter(
    "wait",
    {"type": "number", "format": "double", "minimum": 0},
    description=(
        "Wait up to this many seconds (at most "
        f"{selectors.WAIT_MAX_SECONDS}) for the job to finish before answering."
    ),
)


def _checked_project(request, project: Project | int, needed: str) -> None:
    role = project_role(user=request.user, project=project)
    if role is None:
        raise Http404
    if not role_allows(role, needed):
        raise PermissionDenied


def _project(request, project_id: int, needed: str) -> Project:
    project = get_object_or_404(Project, pk=project_id)
    _checked_project(request, project, needed)
    return project


def _wait_seconds(request) -> float:
    raw = request.query_params.get("wait")
    if raw in (None, ""):
        return 0.0
    try:
        seconds = float(raw)
    except ValueError as exc:
        raise serializers.ValidationError({"wait": ["A number of seconds."]}) from exc
    if not math.isfinite(seconds):
        raise serializers.ValidationError({"wait": ["A number of seconds."]})
    if seconds < 0:
        raise serializers.ValidationError({"wait": ["Not negative."]})
    return min(seconds, selectors.WAIT_MAX_SECONDS)


def _dispatch_note(job) -> str | None:
    """Why a queued job has not reached a worker yet (the broker was down), else None."""
    if job.status == "queued" and job.enqueued_at is None and job.dispatch_error:
        return job.dispatch_error
    return None


# ------------------------------------------------------------------------------------------
# Serializers (output shapes; they also document the schema)
# ------------------------------------------------------------------------------------------


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
        return _dispatch_note(run)


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
        return _dispatch_note(job)


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


def _job_created(job, *, created: bool = True) -> Response:
    job.refresh_from_db()  # the dispatch after commit has recorded whether it reached Redis
    return Response(
        {"id": job.pk, "status": job.status, "note": _dispatch_note(job)},
        status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK,
    )


# ------------------------------------------------------------------------------------------
# Views
# ------------------------------------------------------------------------------------------


class TrainingRunCreateView(APIView):
    @extend_schema(
        operation_id="training_run_create",
        summary="Retrain the project's classifier (owners)",
        description=(
            "Queues a training run: 202 with the new run, or 200 with the run already "
            "queued or running (one at a time per project)."
        ),
        request=TrainingRunStartSerializer,
        responses={
            202: JobCreatedSerializer,
            200: JobCreatedSerializer,
            **_errors(400, 401, 403, 404),
        },
    )
    def post(self, request, project_id: int):
        project = _project(request, project_id, Role.OWNER)
        body = TrainingRunStartSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        run, created = services.training_run_start(
            project=project,
            requested_by=request.user,
            hyperparameters=body.validated_data.get("hyperparameters"),
        )
        return _job_created(run, created=created)


class TrainingRunDetailView(APIView):
    @extend_schema(
        operation_id="training_run_retrieve",
        summary="A training run: status, progress, and the version it produced",
        parameters=[WAIT_PARAMETER],
        responses={200: TrainingRunSerializer, **_errors(400, 401, 404)},
    )
    def get(self, request, run_id: int):
        run = get_object_or_404(TrainingRun, pk=run_id)
        _checked_project(request, run.project_id, Role.VIEWER)
        wait = _wait_seconds(request)
        if wait:
            run = selectors.job_wait(job=run, seconds=wait)
        run = TrainingRun.objects.select_related("model_version").get(pk=run.pk)
        return Response(TrainingRunSerializer(run).data)


class ModelVersionListView(APIView):
    @extend_schema(
        operation_id="model_versions_list",
        summary="The project's model versions, newest first",
        responses={200: ModelVersionSerializer(many=True), **_errors(401, 404)},
    )
    def get(self, request, project_id: int):
        project = _project(request, project_id, Role.VIEWER)
        versions = selectors.model_versions_of(project=project)
        return Response(ModelVersionSerializer(versions, many=True).data)


class ModelVersionActivateView(APIView):
    @extend_schema(
        operation_id="model_version_activate",
        summary="Make this version the active one; also the rollback (owners)",
        request=None,
        responses={200: ModelVersionSerializer, **_errors(401, 403, 404)},
    )
    def post(self, request, version_id: int):
        version = get_object_or_404(ModelVersion, pk=version_id)
        _checked_project(request, version.project_id, Role.OWNER)
        version = services.model_version_activate(model_version=version, activated_by=request.user)
        return Response(ModelVersionSerializer(version).data)


class PredictionCreateView(APIView):
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(
        operation_id="prediction_job_create",
        summary="Predict stored images or ad-hoc files with the active version",
        description=(
            'JSON {"image_ids": [...]} predicts stored images of the project (results also '
            "become their predictions); multipart `files` predicts ad-hoc images that are not "
            "stored as training data. Annotators and owners."
        ),
        request={
            "application/json": PredictImagesSerializer,
            "multipart/form-data": PredictFilesSerializer,
        },
        responses={202: JobCreatedSerializer, **_errors(400, 401, 403, 404)},
    )
    def post(self, request, project_id: int):
        project = _project(request, project_id, Role.ANNOTATOR)
        uploads = request.FILES.getlist("files")
        if uploads:
            job = services.prediction_job_start(
                project=project,
                requested_by=request.user,
                files=[services.AdHocFile(name=upload.name, file=upload) for upload in uploads],
            )
        else:
            body = PredictImagesSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            job = services.prediction_job_start(
                project=project,
                requested_by=request.user,
                image_ids=body.validated_data["image_ids"],
            )
        return _job_created(job)


class PredictionJobDetailView(APIView):
    @extend_schema(
        operation_id="prediction_job_retrieve",
        summary="A prediction job and its results",
        parameters=[WAIT_PARAMETER],
        responses={200: PredictionJobSerializer, **_errors(400, 401, 404)},
    )
    def get(self, request, job_id: int):
        job = get_object_or_404(PredictionJob, pk=job_id)
        _checked_project(request, job.project_id, Role.VIEWER)
        wait = _wait_seconds(request)
        if wait:
            job = selectors.job_wait(job=job, seconds=wait)
        return Response(PredictionJobSerializer(job).data)


class ImagePredictionsView(APIView):
    @extend_schema(
        operation_id="image_predictions_list",
        summary="Every model version's prediction of the image, newest version first",
        responses={200: ImagePredictionSerializer(many=True), **_errors(401, 404)},
    )
    def get(self, request, image_id: int):
        image = get_object_or_404(Image, pk=image_id)
        _checked_project(request, image.project_id, Role.VIEWER)
        predictions = selectors.predictions_of_image(image=image)
        return Response(ImagePredictionSerializer(predictions, many=True).data)
