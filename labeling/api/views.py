"""The labeling API: thin views over labeling.services (writes), labeling.ingest and
labeling.selectors (reads). Access rules: labeling.api.permissions.HasProjectRole.

About 400 lines: every endpoint of the labeling API, each a thin view with its OpenAPI
description; splitting by resource would scatter one app's contract over several files."""

from django.contrib.auth.signals import user_logged_in
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from classifier.selectors import image_suggestion
from labeling import export, ingest, invitations, selectors, services
from labeling.api import serializers as s
from labeling.api.pagination import ImagePagination
from labeling.api.permissions import HasProjectRole
from labeling.models import (
    Annotation,
    AnnotationBatch,
    Image,
    Invitation,
    LabelClass,
    Membership,
    Project,
    Role,
)
from labeling.permissions import project_role, project_role_required, user_authenticated
from labelplatform.api.schema import error_responses
from labelplatform.api.serializers import ErrorSerializer
from labelplatform.login_lockout import LoginLockedOut

STORAGE_FAILED = {
    503: OpenApiResponse(
        s.IngestStorageFailureSerializer,
        description="The storage could not be written: each file's verdict, and why",
    ),
    507: OpenApiResponse(
        s.IngestStorageFailureSerializer,
        description="The storage is full: each file's verdict, and why",
    ),
}


def label_class_named(*, project: Project, name: str) -> LabelClass:
    """The project's class of that name; a 400 that lists the classes otherwise."""
    label_class = selectors.label_class_by_name(project=project, name=name)
    if label_class is None:
        names = ", ".join(project.classes.values_list("name", flat=True))
        raise serializers.ValidationError(
            {"label": [f"Unknown class {name!r}; this project's classes are {names}."]}
        )
    return label_class


class TokenView(ObtainAuthToken):
    """Exchange a username and password for the API token (created on first use).

    A login like the login page's: failures count towards the lockout of that username from
    this address (labelplatform.login_lockout), and a success clears the count."""

    # Credentials only: a logged-in browser session must not make this a CSRF-checked call.
    authentication_classes = []
    # JSON only (ObtainAuthToken also parses forms): one request content type, so that the
    # schema's clients send the body they declare.
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="auth_token_create",
        summary="Get your API token",
        request=s.CredentialsSerializer,
        responses={
            200: s.TokenSerializer,
            **error_responses(400),
            429: OpenApiResponse(
                ErrorSerializer,
                description="Too many failed logins for this username from this address: "
                "refused, even with the right password, until the time in Retry-After.",
            ),
        },
        auth=[],
    )
    def post(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        try:
            serializer.is_valid(raise_exception=True)
        except serializers.ValidationError:
            # django-axes marks the request it was handed when it refuses or locks out.
            if getattr(request, "axes_locked_out", False):
                raise LoginLockedOut() from None
            raise
        user = serializer.validated_data["user"]
        token, _ = Token.objects.get_or_create(user=user)
        # A token is a login: the lockout's count is cleared and last_login moves on.
        user_logged_in.send(sender=type(user), request=request, user=user)
        return Response({"token": token.key})


class ProjectScopedView(generics.GenericAPIView):
    """A view about one project, named by `project_id` in the URL."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    required_roles: dict[str, str] = {"GET": Role.VIEWER}

    def get_project(self) -> Project:
        if not hasattr(self, "_project"):
            self._project = get_object_or_404(
                selectors.projects_visible_to(user=user_authenticated(self.request.user)),
                pk=self.kwargs["project_id"],
            )
        return self._project


class ProjectListView(generics.ListCreateAPIView):
    """The projects you belong to (every project for staff); create a project you own."""

    serializer_class = s.ProjectSerializer

    def get_queryset(self):
        return selectors.projects_with_counts_visible_to(user=self.request.user)

    @extend_schema(
        summary="List your projects",
        responses={
            200: s.ProjectSerializer(many=True),
            **error_responses(401),
            404: OpenApiResponse(ErrorSerializer, description="No such page"),
        },
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Create a project (you become its owner)",
        request=s.ProjectCreateSerializer,
        responses={201: s.ProjectDetailSerializer, **error_responses(400, 401)},
    )
    def post(self, request, *args, **kwargs):
        serializer = s.ProjectCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        project = services.project_create(created_by=request.user, **serializer.validated_data)
        return Response(project_detail_data(request, project), status=status.HTTP_201_CREATED)


def project_detail_data(request, project: Project) -> dict:
    project = selectors.projects_with_counts_visible_to(user=request.user).get(pk=project.pk)
    members = selectors.project_members(project=project)
    return s.ProjectDetailSerializer(project, context={"members": members}).data


class ProjectDetailView(ProjectScopedView):
    """A project with its classes, split ratios, counts and members; owners change where
    annotators see the model's suggestions."""

    required_roles = {"GET": Role.VIEWER, "PATCH": Role.OWNER}

    @extend_schema(
        summary="A project with its members",
        responses={200: s.ProjectDetailSerializer, **error_responses(401, 404)},
    )
    def get(self, request, project_id: int):
        return Response(project_detail_data(request, self.get_project()))

    @extend_schema(
        summary="Change where annotators see the model's suggestions (owners)",
        request=s.ProjectUpdateSerializer,
        responses={200: s.ProjectDetailSerializer, **error_responses(400, 401, 403, 404)},
    )
    def patch(self, request, project_id: int):
        serializer = s.ProjectUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.project_suggestions_set(
            project=self.get_project(), splits=serializer.validated_data["suggestions"]
        )
        return Response(project_detail_data(request, self.get_project()))


class ProjectMembersView(ProjectScopedView):
    """The project's members; owners add a user or change their role."""

    required_roles = {"GET": Role.VIEWER, "POST": Role.OWNER}
    serializer_class = s.MembershipSerializer
    pagination_class = None

    @extend_schema(
        summary="List the members",
        responses={200: s.MembershipSerializer(many=True), **error_responses(401, 404)},
    )
    def get(self, request, project_id: int):
        members = selectors.project_members(project=self.get_project())
        return Response(s.MembershipSerializer(members, many=True).data)

    @extend_schema(
        summary="Add a member or change their role (owners)",
        request=s.MembershipSetSerializer,
        responses={
            201: OpenApiResponse(s.MembershipSerializer, description="Added"),
            200: OpenApiResponse(s.MembershipSerializer, description="Role changed"),
            **error_responses(400, 401, 403, 404),
        },
    )
    def post(self, request, project_id: int):
        serializer = s.MembershipSetSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        project, user = self.get_project(), serializer.validated_data["username"]
        existed = Membership.objects.filter(project=project, user=user).exists()
        membership = services.membership_set(
            project=project, user=user, role=serializer.validated_data["role"]
        )
        return Response(
            s.MembershipSerializer(membership).data,
            status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED,
        )


class ProjectImagesView(ProjectScopedView):
    """The project's images, filtered and paginated; annotators and owners upload more."""

    required_roles = {"GET": Role.VIEWER, "POST": Role.ANNOTATOR}
    serializer_class = s.ImageSerializer
    pagination_class = ImagePagination
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        summary="List images, filtered by split, label and status",
        parameters=[s.ImageFilterSerializer],
        responses={200: s.ImageSerializer(many=True), **error_responses(400, 401, 404)},
    )
    def get(self, request, project_id: int):
        filters = s.ImageFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        label_name = filters.validated_data.pop("label", None)
        project = self.get_project()
        label = label_class_named(project=project, name=label_name) if label_name else None
        images = selectors.images_filtered(
            project=project,
            filters={**filters.validated_data, "label": label},
            user=request.user,
        )
        page = self.paginate_queryset(selectors.images_with_annotations(images))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        summary="Upload images or zips of images (annotators, owners)",
        description="Each file gets a verdict: created, duplicate of a stored image, or "
        "rejected with the reason. Good files are stored even when others are rejected. "
        "When the server's storage fails (507 full, 503 otherwise), files stored before the "
        "failure stay stored and the others are rejected with the reason; send those again.",
        request={"multipart/form-data": s.ImageUploadSerializer},
        responses={
            201: s.IngestReportSerializer,
            **error_responses(400, 401, 403, 404),
            **STORAGE_FAILED,
        },
    )
    def post(self, request, project_id: int):
        upload = s.ImageUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        project, label_name = self.get_project(), upload.validated_data.get("label")
        label = label_class_named(project=project, name=label_name) if label_name else None
        report = ingest.image_ingest(
            project=project,
            uploaded_by=request.user,
            files=[
                ingest.IncomingFile(name=f.name, file=f) for f in upload.validated_data["files"]
            ],
            split=upload.validated_data["split"],
            label=label,
        )
        # Re-read the new rows: the uploader's annotation may have set their consensus label.
        created = (
            Image.objects.filter(pk__in=[image.pk for image in report.created])
            .select_related("label")
            .order_by("pk")
        )
        data = {
            "created": [
                {
                    "id": i.pk,
                    "sha256": i.sha256,
                    "split": i.split,
                    "label": i.label.name if i.label else None,
                }
                for i in created
            ],
            "duplicates": [{"name": name, "id": image.pk} for name, image in report.duplicates],
            "rejected": [{"name": name, "error": error} for name, error in report.rejected],
        }
        if report.storage_failure is not None:
            data["detail"] = (
                f"{ingest.storage_failure_detail(report)} Send the others again later: the "
                "ones stored are reported as duplicates."
            )
            return Response(
                s.IngestStorageFailureSerializer(data).data,
                status=status.HTTP_507_INSUFFICIENT_STORAGE
                if report.storage_failure.full
                else status.HTTP_503_SERVICE_UNAVAILABLE,
            )
        return Response(s.IngestReportSerializer(data).data, status=status.HTTP_201_CREATED)


class ProjectStatsView(ProjectScopedView):
    """Image counts per split x class x status."""

    @extend_schema(
        summary="Image counts per split, class and status",
        responses={200: s.ProjectStatsSerializer, **error_responses(401, 404)},
    )
    def get(self, request, project_id: int):
        stats = selectors.project_stats(project=self.get_project())
        return Response(s.ProjectStatsSerializer(stats).data)


class ExportFormatNegotiation(DefaultContentNegotiation):
    """On the export, ?format= names the export, not one of DRF's renderers (which would
    answer ?format=zip with a 404); the response is the export, or a JSON error."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ProjectExportView(ProjectScopedView):
    """The project's dataset, streamed, in the `?format=` asked for (zip by default). Kept
    for the clients written before each format had a path of its own (ProjectExportZipView
    and the others below); not in the schema, where one operation declared three content
    types and generated clients decoded the zip as text."""

    required_roles = {"GET": Role.OWNER}
    renderer_classes = [JSONRenderer]
    content_negotiation_class = ExportFormatNegotiation

    @extend_schema(exclude=True)
    def get(self, request, project_id: int):
        params = s.ExportParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        return self.export_response(params.validated_data["format"])

    def export_response(self, format: str) -> StreamingHttpResponse:
        stream = export.project_export(project=self.get_project(), format=format)
        response = StreamingHttpResponse(
            export.chunks_started(stream.chunks), content_type=stream.content_type
        )
        response["Content-Disposition"] = f'attachment; filename="{stream.filename}"'
        return response


class ProjectExportZipView(ProjectExportView):
    """The labeled images as an ImageFolder zip: <split>/<class>/<file>, with a folder for
    every split x class, empty or not."""

    @extend_schema(
        operation_id="project_export_zip",
        summary="Export the labeled images as an ImageFolder zip (owners)",
        description="application/octet-stream when the request's Accept asks for it (some "
        "client generators read no other binary type), application/zip otherwise.",
        responses={
            (200, media_type): OpenApiResponse(
                OpenApiTypes.BINARY,
                description="<split>/<class>/<file> of the labeled images; every split x "
                "class folder is there, empty or not",
            )
            for media_type in ("application/zip", "application/octet-stream")
        }
        | error_responses(401, 403, 404),
    )
    def get(self, request, project_id: int):
        response = self.export_response("zip")
        accepted = request.headers.get("Accept", "").split(",")[0].split(";")[0].strip()
        if accepted == "application/octet-stream":
            response["Content-Type"] = accepted
        return response


class ProjectExportCsvView(ProjectExportView):
    """Every image's labels as CSV."""

    @extend_schema(
        operation_id="project_export_csv",
        summary="Export every image's labels as CSV (owners)",
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="One row per image"),
            **error_responses(401, 403, 404),
        },
    )
    def get(self, request, project_id: int):
        return self.export_response("csv")


class ProjectExportJsonView(ProjectExportView):
    """The project, its classes and every image's labels as JSON."""

    @extend_schema(
        operation_id="project_export_json",
        summary="Export the project, its classes and every image's labels as JSON (owners)",
        responses={200: s.LabelsExportSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request, project_id: int):
        return self.export_response("json")


class ImageScopedView(generics.GenericAPIView):
    """A view about one image, named by `image_id`; its project is the image's."""

    permission_classes = [IsAuthenticated, HasProjectRole]
    required_roles: dict[str, str] = {"GET": Role.VIEWER}

    def get_image(self) -> Image:
        if not hasattr(self, "_image"):
            user = user_authenticated(self.request.user)
            images = selectors.images_visible_to(user=user).select_related("project")
            self._image = get_object_or_404(images, pk=self.kwargs["image_id"])
        return self._image

    def get_project(self) -> Project:
        return self.get_image().project


class ImageDetailView(ImageScopedView):
    """One image with its annotations and the model's suggestion; owners move it to another
    split."""

    required_roles = {"GET": Role.VIEWER, "PATCH": Role.OWNER}
    serializer_class = s.ImageDetailSerializer

    def image_data(self) -> dict:
        image = (
            selectors.images_with_annotations(Image.objects.filter(pk=self.get_image().pk))
            .select_related("project")
            .get()
        )
        context = {**self.get_serializer_context(), "suggestion": image_suggestion(image=image)}
        return s.ImageDetailSerializer(image, context=context).data

    @extend_schema(
        summary="An image with its annotations and the model's suggestion",
        description="`suggestion` is the active model version's prediction, when the project "
        "shows suggestions on the image's split (null otherwise, or before a prediction).",
        responses={200: s.ImageDetailSerializer, **error_responses(401, 404)},
    )
    def get(self, request, image_id: int):
        return Response(self.image_data())

    @extend_schema(
        summary="Move an image to another split, or mark it gold (owners)",
        request=s.ImageUpdateSerializer,
        responses={200: s.ImageDetailSerializer, **error_responses(400, 401, 403, 404)},
    )
    def patch(self, request, image_id: int):
        serializer = s.ImageUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data, image = serializer.validated_data, self.get_image()
        if "split" in data:
            services.images_split_set(image_ids=[image.pk], split=data["split"])
        if "gold" in data:
            label = data.get("label")
            services.image_gold_set(
                image=image,
                gold=data["gold"],
                label_class=label_class_named(project=image.project, name=label) if label else None,
            )
        return Response(self.image_data())


class ImageAnnotationsView(ImageScopedView):
    """Record your label for the image (replacing yours, if any), or take it back; consensus
    follows."""

    required_roles = {"POST": Role.ANNOTATOR, "DELETE": Role.ANNOTATOR}
    serializer_class = s.AnnotationSerializer

    @extend_schema(
        summary="Label an image (annotators, owners)",
        request=s.AnnotationCreateSerializer,
        responses={201: s.AnnotationSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request, image_id: int):
        serializer = s.AnnotationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        image = self.get_image()
        label_class = label_class_named(
            project=image.project, name=serializer.validated_data["label"]
        )
        annotation = services.annotation_create(
            image=image.pk, user=request.user, label_class=label_class
        )
        return Response(s.AnnotationSerializer(annotation).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="image_annotation_destroy",
        summary="Undo your label on an image (annotators, owners)",
        description="As the labeling page's undo (Z): your annotation is deleted, the "
        "image's consensus is recomputed and the image returns to your queue. Other people's "
        "labels stay. 404 when you have not labeled it.",
        responses={204: None, **error_responses(401, 403, 404)},
    )
    def delete(self, request, image_id: int):
        image, user = self.get_image(), user_authenticated(request.user)
        if not Annotation.objects.filter(image=image, user=user).exists():
            raise Http404("You have not labeled this image.")
        services.annotation_delete(image=image.pk, user=user)
        return Response(status=status.HTTP_204_NO_CONTENT)


def skip_images_needing_label(project: Project, user, image_ids: list[int]) -> set[int]:
    """Those of the skipped images that still need the user's label."""
    return set(
        selectors.images_needing_label_by(project=project, user=user)
        .filter(pk__in=image_ids)
        .values_list("pk", flat=True)
    )


class ProjectSkipsView(ProjectScopedView):
    """Your skips in the project: images left out of your labeling queue (the page's and
    GET /api/projects/{id}/queue/) until you bring them back."""

    required_roles = {"GET": Role.ANNOTATOR, "POST": Role.ANNOTATOR, "DELETE": Role.ANNOTATOR}
    pagination_class = None
    serializer_class = s.SkipCreateSerializer  # what OPTIONS describes: the POST body

    @extend_schema(
        operation_id="project_skips_list",
        summary="Your skipped images, oldest first (annotators, owners)",
        responses={200: s.SkipSerializer(many=True), **error_responses(401, 403, 404)},
    )
    def get(self, request, project_id: int):
        project, user = self.get_project(), user_authenticated(request.user)
        skips = list(selectors.image_skips_open(project=project, user=user))
        needing = skip_images_needing_label(project, user, [skip.image_id for skip in skips])
        return Response(s.SkipSerializer(skips, many=True, context={"needing": needing}).data)

    @extend_schema(
        operation_id="project_skips_create",
        summary="Skip an image: it leaves your queue until you bring it back (annotators, owners)",
        description="Skipping an image you skipped already is one skip (201 again). Other "
        "people's queues are not affected.",
        request=s.SkipCreateSerializer,
        responses={201: s.SkipSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request, project_id: int):
        body = s.SkipCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        project, user = self.get_project(), user_authenticated(request.user)
        image = Image.objects.filter(project=project, pk=body.validated_data["image_id"]).first()
        if image is None:
            raise serializers.ValidationError(
                {"image_id": ["No image of this project has that id."]}
            )
        skip = services.image_skip(image=image, user=user)
        needing = skip_images_needing_label(project, user, [image.pk])
        return Response(
            s.SkipSerializer(skip, context={"needing": needing}).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        operation_id="project_skips_restore",
        summary='Bring all your skipped images back into your queue (the page\'s "Show skipped")',
        description="The skips still count in your figures (GET .../annotators/).",
        request=None,
        responses={200: s.SkipsRestoredSerializer, **error_responses(401, 403, 404)},
    )
    def delete(self, request, project_id: int):
        restored = services.image_skips_restore(
            project=self.get_project(), user=user_authenticated(request.user)
        )
        return Response({"restored": restored})


class ProjectSkipDetailView(ProjectScopedView):
    """One of your skips: take it back."""

    required_roles = {"DELETE": Role.ANNOTATOR}

    @extend_schema(
        operation_id="project_skip_destroy",
        summary="Undo a skip: the image returns to your queue (annotators, owners)",
        description="As the labeling page's undo (Z) of a skip: the skip is forgotten and "
        "not counted in your figures. 404 when you have no open skip of that image.",
        responses={204: None, **error_responses(401, 403, 404)},
    )
    def delete(self, request, project_id: int, image_id: int):
        project, user = self.get_project(), user_authenticated(request.user)
        image = get_object_or_404(Image.objects.only("pk"), project=project, pk=image_id)
        if not services.image_skip_undo(image=image, user=user):
            raise Http404("You have not skipped this image.")
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProjectAgreementView(ProjectScopedView):
    """How much the project's annotators agree (owners)."""

    required_roles = {"GET": Role.OWNER}

    @extend_schema(
        operation_id="project_agreement_retrieve",
        summary="Inter-annotator agreement: percent, Krippendorff's alpha, Cohen's kappa per "
        "pair (owners)",
        description="On skewed classes kappa and alpha can be low while agreement is high: "
        "they discount the agreement chance alone would give.",
        parameters=[s.QualityParamsSerializer],
        responses={200: s.AgreementSerializer, **error_responses(400, 401, 403, 404)},
    )
    def get(self, request, project_id: int):
        params = s.QualityParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        split = params.validated_data.get("split")
        result = selectors.project_agreement(project=self.get_project(), split=split)
        figures, names = result.agreement, result.usernames
        return Response(
            {
                "split": split,
                "images": figures.images,
                "percent_agreement": figures.percent_agreement,
                "krippendorff_alpha": figures.krippendorff_alpha,
                "min_shared_images": selectors.quality.MIN_SHARED_IMAGES,
                "pairs": [
                    {
                        "annotators": [names[pair.annotators[0]], names[pair.annotators[1]]],
                        "cohen_kappa": pair.cohen_kappa,
                        "percent_agreement": pair.percent_agreement,
                        "images": pair.images,
                    }
                    for pair in figures.pairs
                ],
            }
        )


def annotator_figures_data(rows) -> list[dict]:
    return [
        {
            "user_id": row.user_id,
            "username": row.username,
            "labels": row.labels,
            "agreement_with_final": {
                "share": row.agreement_with_final.share,
                "images": row.agreement_with_final.images,
            },
            "gold_accuracy": {"share": row.gold_accuracy.share, "images": row.gold_accuracy.images},
            "accepted_suggestions": {
                "share": row.accepted_suggestions.share,
                "images": row.accepted_suggestions.images,
            },
            "median_seconds_per_label": row.median_seconds_per_label,
            "skips": row.skips,
            "skipped_now": row.skipped_now,
        }
        for row in rows
    ]


class ProjectAnnotatorsView(ProjectScopedView):
    """Each annotator's figures: owners see everyone's, other members their own."""

    required_roles = {"GET": Role.VIEWER}
    pagination_class = None

    @extend_schema(
        operation_id="project_annotators_list",
        summary="Annotators' figures: labels, agreement with the final label, gold accuracy, "
        "time per label, skips (owners: all; others: their own)",
        parameters=[s.QualityParamsSerializer],
        responses={
            200: s.AnnotatorFiguresSerializer(many=True),
            **error_responses(400, 401, 404),
        },
    )
    def get(self, request, project_id: int):
        params = s.QualityParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        project, user = self.get_project(), user_authenticated(request.user)
        only = None if project_role(user=user, project=project) == Role.OWNER else user
        rows = selectors.project_annotator_figures(
            project=project, split=params.validated_data.get("split"), user=only
        )
        return Response(annotator_figures_data(rows))


class ProjectInvitationsView(ProjectScopedView):
    """Owners invite people into the project by email or single-use link."""

    required_roles = {"GET": Role.OWNER, "POST": Role.OWNER}
    pagination_class = None
    serializer_class = s.InvitationSerializer

    @extend_schema(
        operation_id="project_invitations_list",
        summary="The project's invitations (owners)",
        responses={200: s.InvitationSerializer(many=True), **error_responses(401, 403, 404)},
    )
    def get(self, request, project_id: int):
        listed = Invitation.objects.filter(project=self.get_project()).select_related("accepted_by")
        return Response(s.InvitationSerializer(listed, many=True).data)

    @extend_schema(
        operation_id="project_invitations_create",
        summary="Invite someone: a single-use link, mailed when an email is given (owners)",
        request=s.InvitationCreateSerializer,
        responses={201: s.InvitationCreatedSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request, project_id: int):
        serializer = s.InvitationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invitation, token = invitations.invitation_create(
            project=self.get_project(),
            role=serializer.validated_data["role"],
            email=serializer.validated_data.get("email", ""),
            invited_by=user_authenticated(request.user),
        )
        link = request.build_absolute_uri(reverse("labeling:invitation-accept", args=[token]))
        invitations.invitation_email_send(invitation=invitation, link=link)
        data = {**s.InvitationSerializer(invitation).data, "link": link}
        return Response(data, status=status.HTTP_201_CREATED)


class InvitationDetailView(APIView):
    @extend_schema(
        operation_id="invitation_destroy",
        summary="Revoke an open invitation (owners)",
        responses={204: None, **error_responses(401, 403, 404)},
    )
    def delete(self, request, invitation_id: int):
        invitation = get_object_or_404(Invitation, pk=invitation_id)
        project_role_required(user=request.user, project=invitation.project_id, needed=Role.OWNER)
        invitations.invitation_revoke(invitation=invitation)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AnnotationBatchUndoView(APIView):
    """Undo one of your bulk actions (suggestions accepted in bulk, a class applied in the
    grid): each image's annotation by you returns to what it was before."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="Undo a bulk action of yours",
        request=None,
        responses={200: s.AnnotationBatchUndoSerializer, **error_responses(401, 404)},
    )
    def post(self, request, batch_id: int):
        # Somebody else's action does not exist for you: a 404, as for a project.
        batch = get_object_or_404(AnnotationBatch, pk=batch_id, user=request.user)
        undone, kept = services.annotation_batch_undo(batch=batch, user=request.user)
        return Response({"undone": undone, "kept": kept})
