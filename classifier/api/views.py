"""The classifier API: training runs, model versions, prediction jobs, image predictions.

Thin views over classifier.services (writes) and classifier.selectors (reads); shapes in
classifier.api.serializers. Access follows the labeling API: anonymous 401, non-members 404
(a project's existence is not leaked), a role too low 403 (labeling.permissions). Owners
(and staff) train and activate; annotators and owners ask for predictions; every member
reads.

The two job GETs take `?wait=<seconds>` (at most selectors.WAIT_MAX_SECONDS): the answer
comes as soon as the job finishes, so clients need not poll. Only a bounded share of a web
process's threads may wait (classifier.api.wait_slots): past it, 429 with Retry-After.
"""

import math

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from classifier import selectors, services
from classifier.api import serializers as s
from classifier.api.wait_slots import RETRY_AFTER_SECONDS, wait_slot
from classifier.models import HealthCheck, ModelExport, ModelVersion, PredictionJob, TrainingRun
from classifier.services import CLASSIFIER_SETTINGS
from labeling.models import Image, Role
from labeling.permissions import project_for_user, project_role_required
from labelplatform.api.schema import error_responses
from labelplatform.api.serializers import ErrorSerializer

WAIT_PARAMETER = OpenApiParameter(
    "wait",
    {"type": "number", "format": "double", "minimum": 0},
    description=(
        "Wait up to this many seconds (at most "
        f"{selectors.WAIT_MAX_SECONDS}) for the job to finish before answering."
    ),
)


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


def _too_many_waits() -> Response:
    """429: this process lends no more threads to waits now (classifier.api.wait_slots)."""
    return Response(
        {
            "detail": (
                "Too many requests are waiting on jobs right now; ask again after Retry-After "
                "seconds, or read the job without ?wait=."
            )
        },
        status=status.HTTP_429_TOO_MANY_REQUESTS,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _job_created(job, *, created: bool = True) -> Response:
    job.refresh_from_db()  # the dispatch after commit has recorded whether it reached Redis
    return Response(
        {"id": job.pk, "status": job.status, "note": s.dispatch_note(job)},
        status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK,
    )


class TrainingRunCreateView(APIView):
    @extend_schema(
        operation_id="training_run_create",
        summary="Retrain the project's classifier (owners)",
        description=(
            "Queues a training run: 202 with the new run, or 200 with the run already "
            "queued or running (one at a time per project)."
        ),
        request=s.TrainingRunStartSerializer,
        responses={
            202: s.JobCreatedSerializer,
            200: s.JobCreatedSerializer,
            **error_responses(400, 401, 403, 404),
        },
    )
    def post(self, request, project_id: int):
        project, _ = project_for_user(user=request.user, pk=project_id, needed=Role.OWNER)
        body = s.TrainingRunStartSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        run, created = services.training_run_start(
            project=project,
            requested_by=request.user,
            hyperparameters=body.validated_data.get("hyperparameters"),
            backbone=body.validated_data.get("backbone"),
        )
        return _job_created(run, created=created)


def _classifier_settings(project) -> dict:
    return {
        "backbone": project.backbone,
        "promotion_recall_margin": project.promotion_recall_margin,
        "unsure_threshold": project.unsure_threshold,
        "backbone_used": services.backbone_for(project=project)
        if not project.backbone or project.backbone in services.backbone_choices()
        else project.backbone,
        "backbone_choices": services.backbone_choices(),
    }


class ProjectClassifierSettingsView(APIView):
    @extend_schema(
        operation_id="project_classifier_settings_retrieve",
        summary="The project's classifier settings: backbone, promotion margin, unsure threshold",
        responses={200: s.ProjectClassifierSettingsReadSerializer, **error_responses(401, 404)},
    )
    def get(self, request, project_id: int):
        project, _ = project_for_user(user=request.user, pk=project_id, needed=Role.VIEWER)
        return Response(_classifier_settings(project))

    @extend_schema(
        operation_id="project_classifier_settings_update",
        summary="Change the project's classifier settings (owners); omitted ones are kept",
        request=s.ProjectClassifierSettingsSerializer,
        responses={
            200: s.ProjectClassifierSettingsReadSerializer,
            **error_responses(400, 401, 403, 404),
        },
    )
    def patch(self, request, project_id: int):
        project, _ = project_for_user(user=request.user, pk=project_id, needed=Role.OWNER)
        body = s.ProjectClassifierSettingsSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        current = _classifier_settings(project)
        values = {key: body.validated_data.get(key, current[key]) for key in CLASSIFIER_SETTINGS}
        project = services.project_classifier_settings_update(project=project, **values)
        return Response(_classifier_settings(project))


class TrainingRunDetailView(APIView):
    @extend_schema(
        operation_id="training_run_retrieve",
        summary="A training run: status, progress, and the version it produced",
        parameters=[WAIT_PARAMETER],
        responses={200: s.TrainingRunSerializer, **error_responses(400, 401, 404, 429)},
    )
    def get(self, request, run_id: int):
        run = get_object_or_404(TrainingRun, pk=run_id)
        project_role_required(user=request.user, project=run.project_id, needed=Role.VIEWER)
        wait = _wait_seconds(request)
        if wait:
            with wait_slot(request.user.pk) as granted:
                if not granted:
                    return _too_many_waits()
                run = selectors.job_wait(job=run, seconds=wait)
        run = TrainingRun.objects.select_related("model_version").get(pk=run.pk)
        return Response(s.TrainingRunSerializer(run).data)


class ModelVersionListView(APIView):
    @extend_schema(
        operation_id="model_versions_list",
        summary="The project's model versions, newest first",
        responses={200: s.ModelVersionSerializer(many=True), **error_responses(401, 404)},
    )
    def get(self, request, project_id: int):
        project, _ = project_for_user(user=request.user, pk=project_id, needed=Role.VIEWER)
        versions = selectors.model_versions_of(project=project)
        return Response(s.ModelVersionSerializer(versions, many=True).data)


class ModelVersionDetailView(APIView):
    @extend_schema(
        operation_id="model_version_retrieve",
        summary="A model version: per-class metrics, calibration, backbone, promotion decision",
        responses={200: s.ModelVersionSerializer, **error_responses(401, 404)},
    )
    def get(self, request, version_id: int):
        version = get_object_or_404(ModelVersion, pk=version_id)
        project_role_required(user=request.user, project=version.project_id, needed=Role.VIEWER)
        return Response(s.ModelVersionSerializer(version).data)


class ModelVersionPinView(APIView):
    @extend_schema(
        operation_id="model_version_pin",
        summary="Pin a version (it becomes and stays active) or unpin it (owners)",
        request=s.ModelVersionPinSerializer,
        responses={200: s.ModelVersionSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request, version_id: int):
        version = get_object_or_404(ModelVersion, pk=version_id)
        project_role_required(user=request.user, project=version.project_id, needed=Role.OWNER)
        body = s.ModelVersionPinSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        version = services.model_version_pin(
            model_version=version, pinned=body.validated_data["pinned"], pinned_by=request.user
        )
        return Response(s.ModelVersionSerializer(version).data)


class ModelExportCreateView(APIView):
    @extend_schema(
        operation_id="model_export_create",
        summary="Export the version as a Keras or TFLite file (annotators and owners)",
        description=(
            "Queues an export on the training queue: 202 with the job, or 200 with the "
            "export already built, queued or running (one per version and format)."
        ),
        request=s.ModelExportStartSerializer,
        responses={
            202: s.JobCreatedSerializer,
            200: s.JobCreatedSerializer,
            **error_responses(400, 401, 403, 404),
        },
    )
    def post(self, request, version_id: int):
        version = get_object_or_404(ModelVersion, pk=version_id)
        project_role_required(user=request.user, project=version.project_id, needed=Role.ANNOTATOR)
        body = s.ModelExportStartSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        export, created = services.model_export_start(
            model_version=version,
            export_format=body.validated_data["format"],
            requested_by=request.user,
        )
        return _job_created(export, created=created)


class ModelExportDetailView(APIView):
    @extend_schema(
        operation_id="model_export_retrieve",
        summary="An export: status and, once built, the download URLs",
        parameters=[WAIT_PARAMETER],
        responses={200: s.ModelExportSerializer, **error_responses(400, 401, 404)},
    )
    def get(self, request, export_id: int):
        export = get_object_or_404(
            ModelExport.objects.select_related("model_version"), pk=export_id
        )
        project_role_required(
            user=request.user, project=export.model_version.project_id, needed=Role.VIEWER
        )
        wait = _wait_seconds(request)
        if wait:
            export = selectors.job_wait(job=export, seconds=wait)
        return Response(s.ModelExportSerializer(export, context={"request": request}).data)


class ModelVersionActivateView(APIView):
    @extend_schema(
        operation_id="model_version_activate",
        summary="Make this version the active one; also the rollback (owners)",
        request=None,
        responses={200: s.ModelVersionSerializer, **error_responses(401, 403, 404)},
    )
    def post(self, request, version_id: int):
        version = get_object_or_404(ModelVersion, pk=version_id)
        project_role_required(user=request.user, project=version.project_id, needed=Role.OWNER)
        version = services.model_version_activate(model_version=version, activated_by=request.user)
        return Response(s.ModelVersionSerializer(version).data)


class PredictionCreateView(APIView):
    # Multipart `files` here is what clients did before the ad-hoc files had an operation of
    # their own (PredictionFilesCreateView); it still works, but the schema documents one
    # content type per operation, as generated clients need.
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(
        operation_id="prediction_job_create",
        summary="Predict stored images with the active version",
        description=(
            'JSON {"image_ids": [...]} predicts stored images of the project; the results also '
            "become their predictions. Ad-hoc files: prediction_job_create_from_files. "
            "Annotators and owners."
        ),
        request={"application/json": s.PredictImagesSerializer},
        responses={
            202: s.JobCreatedSerializer,
            **error_responses(400, 401, 403, 404),
            507: OpenApiResponse(ErrorSerializer, description="Storage full: nothing queued"),
            503: OpenApiResponse(ErrorSerializer, description="Storage unavailable"),
        },
    )
    def post(self, request, project_id: int):
        project, _ = project_for_user(user=request.user, pk=project_id, needed=Role.ANNOTATOR)
        uploads = request.FILES.getlist("files")
        if uploads:
            return _files_predict(project=project, user=request.user, uploads=uploads)
        body = s.PredictImagesSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        job = services.prediction_job_start(
            project=project,
            requested_by=request.user,
            image_ids=body.validated_data["image_ids"],
        )
        return _job_created(job)


class PredictionFilesCreateView(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="prediction_job_create_from_files",
        summary="Predict ad-hoc image files with the active version",
        description=(
            "Multipart `files`: images predicted as they are, never stored as training data "
            "(the Try-the-model page sends its photos here). Annotators and owners."
        ),
        request={"multipart/form-data": s.PredictFilesSerializer},
        responses={
            202: s.JobCreatedSerializer,
            **error_responses(400, 401, 403, 404),
            507: OpenApiResponse(ErrorSerializer, description="Storage full: nothing queued"),
            503: OpenApiResponse(ErrorSerializer, description="Storage unavailable"),
        },
    )
    def post(self, request, project_id: int):
        project, _ = project_for_user(user=request.user, pk=project_id, needed=Role.ANNOTATOR)
        body = s.PredictFilesSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return _files_predict(
            project=project, user=request.user, uploads=body.validated_data["files"]
        )


def _files_predict(*, project, user, uploads) -> Response:
    """Queue the prediction of ad-hoc files: 202 with the job, or 507/503 when the storage
    could not keep them (like an upload's storage failure)."""
    try:
        job = services.prediction_job_start(
            project=project,
            requested_by=user,
            files=[services.AdHocFile(name=upload.name, file=upload) for upload in uploads],
        )
    except services.AdHocFilesNotStored as error:
        full = error.failure.full
        return Response(
            {
                "detail": (
                    "The server's storage is "
                    + ("full" if full else "unavailable")
                    + ": the files were not stored and no prediction was queued. Try "
                    "again later."
                )
            },
            status=status.HTTP_507_INSUFFICIENT_STORAGE
            if full
            else status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "60"},
        )
    return _job_created(job)


class PredictionJobDetailView(APIView):
    @extend_schema(
        operation_id="prediction_job_retrieve",
        summary="A prediction job and its results",
        parameters=[WAIT_PARAMETER],
        responses={200: s.PredictionJobSerializer, **error_responses(400, 401, 404, 429)},
    )
    def get(self, request, job_id: int):
        job = get_object_or_404(PredictionJob, pk=job_id)
        project_role_required(user=request.user, project=job.project_id, needed=Role.VIEWER)
        wait = _wait_seconds(request)
        if wait:
            with wait_slot(request.user.pk) as granted:
                if not granted:
                    return _too_many_waits()
                job = selectors.job_wait(job=job, seconds=wait)
        return Response(s.PredictionJobSerializer(job).data)


class ImagePredictionsView(APIView):
    @extend_schema(
        operation_id="image_predictions_list",
        summary="Every model version's prediction of the image, newest version first",
        responses={200: s.ImagePredictionSerializer(many=True), **error_responses(401, 404)},
    )
    def get(self, request, image_id: int):
        image = get_object_or_404(Image, pk=image_id)
        project_role_required(user=request.user, project=image.project_id, needed=Role.VIEWER)
        predictions = selectors.predictions_of_image(image=image)
        return Response(s.ImagePredictionSerializer(predictions, many=True).data)


# --- Data health -------------------------------------------------------------------------------


class HealthCheckCreateView(APIView):
    @extend_schema(
        operation_id="health_check_create",
        summary="Check the project's data: label errors, near-duplicates, leaks (owners)",
        description=(
            "Queues a health check on a worker: 202 with the new check, or 200 with the one "
            "already queued or running (one at a time per project). Its findings replace the "
            "previous ones when it succeeds (GET .../data-issues/)."
        ),
        request=None,
        responses={
            202: s.JobCreatedSerializer,
            200: s.JobCreatedSerializer,
            **error_responses(401, 403, 404),
        },
    )
    def post(self, request, project_id: int):
        project, _ = project_for_user(user=request.user, pk=project_id, needed=Role.OWNER)
        check, created = services.health_check_start(project=project, requested_by=request.user)
        return _job_created(check, created=created)


class HealthCheckDetailView(APIView):
    @extend_schema(
        operation_id="health_check_retrieve",
        summary="A health check: status, progress, and what it found",
        parameters=[WAIT_PARAMETER],
        responses={200: s.HealthCheckSerializer, **error_responses(400, 401, 404)},
    )
    def get(self, request, check_id: int):
        check = get_object_or_404(HealthCheck, pk=check_id)
        project_role_required(user=request.user, project=check.project_id, needed=Role.VIEWER)
        wait = _wait_seconds(request)
        if wait:
            check = selectors.job_wait(job=check, seconds=wait)
        return Response(s.HealthCheckSerializer(check).data)


class DataIssueListView(APIView):
    @extend_schema(
        operation_id="data_issues_list",
        summary="The project's current data issues, each kind best first",
        description=(
            "From the latest successful health check, less the ones owners answered. "
            "`score` orders each kind: 1 - the out-of-fold probability of the given label "
            "(label_error), the group's highest cosine similarity (near_duplicate, "
            "split_leak), the number of problems (low_quality)."
        ),
        parameters=[s.DataIssueFilterSerializer],
        responses={200: s.DataIssueListSerializer, **error_responses(400, 401, 404)},
    )
    def get(self, request, project_id: int):
        project, _ = project_for_user(user=request.user, pk=project_id, needed=Role.VIEWER)
        query = s.DataIssueFilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        issues = selectors.data_issues_of(project=project, kind=query.validated_data.get("kind"))
        return Response({"results": s.DataIssueSerializer(issues, many=True).data})


class SplitLeaksFixView(APIView):
    @extend_schema(
        operation_id="split_leaks_fix",
        summary="Move each leaked near-duplicate group into one split (owners)",
        description=(
            "For every split_leak of the latest health check, all the group's images move "
            "into one split: the preferred one (train by default) when one of them is "
            "there, else the first of train, validation, test that holds one. A group never "
            "moves into a split none of its images was in."
        ),
        request=s.SplitLeaksFixSerializer,
        responses={200: s.SplitLeaksFixedSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request, project_id: int):
        project, _ = project_for_user(user=request.user, pk=project_id, needed=Role.OWNER)
        body = s.SplitLeaksFixSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        moved = services.split_leaks_fix(project=project, preferred=body.validated_data["split"])
        return Response({"moved": moved})


class LabelingQueueView(APIView):
    @extend_schema(
        operation_id="labeling_queue",
        summary="The next images for you to label, in a sampling strategy's order",
        description=(
            "Images you have not labeled that still need labels, in the order of `strategy` "
            f"({', '.join(selectors.STRATEGIES)}; default: the project's queue_strategy), "
            "each with the active version's suggestion and why it is next. Images you skipped "
            "(POST /api/projects/{id}/skips/) are left out. Annotators and owners; an unknown "
            "strategy is a 400 naming the valid ones."
        ),
        parameters=[s.LabelingQueueQuerySerializer],
        responses={200: s.LabelingQueueSerializer, **error_responses(400, 401, 403, 404)},
    )
    def get(self, request, project_id: int):
        project, _ = project_for_user(user=request.user, pk=project_id, needed=Role.ANNOTATOR)
        query = s.LabelingQueueQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        strategy = query.validated_data.get("strategy") or project.queue_strategy
        queued = selectors.labeling_queue(
            project=project,
            user=request.user,
            strategy=strategy,
            limit=query.validated_data["limit"],
        )
        data = {"strategy": strategy, "results": queued}
        return Response(s.LabelingQueueSerializer(data, context={"request": request}).data)


class SuggestionsAcceptView(APIView):
    @extend_schema(
        operation_id="suggestions_accept",
        summary="Accept the model's suggestions in bulk (annotators, owners)",
        description=(
            "Every image asked for (image_ids, and/or every image predicted at least "
            "min_confidence, optionally of one split) that is still yours to label, on a "
            "split where the project shows suggestions, and predicted by the active version, "
            "gets your annotation of the suggested class, marked from_suggestion. One action: "
            "undo it with POST /api/annotation-batches/{batch}/undo/."
        ),
        request=s.SuggestionsAcceptSerializer,
        responses={200: s.SuggestionsAcceptedSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request, project_id: int):
        project, _ = project_for_user(user=request.user, pk=project_id, needed=Role.ANNOTATOR)
        body = s.SuggestionsAcceptSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        images = Image.objects.all()
        asked = None
        if "image_ids" in body.validated_data:
            ids = set(body.validated_data["image_ids"])
            images, asked = images.filter(pk__in=ids), len(ids)
        if "split" in body.validated_data:
            images = images.filter(split=body.validated_data["split"])
        result = services.suggestions_accept_bulk(
            project=project,
            user=request.user,
            images=images,
            min_confidence=body.validated_data.get("min_confidence"),
            asked=asked,
        )
        return Response(
            {"accepted": result.accepted, "skipped": result.skipped, "batch": result.batch.pk}
        )
