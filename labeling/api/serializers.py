"""Shapes of the labeling API's requests and responses. Validation of input shape lives here;
rules about the domain stay in labeling.services (their ValidationError becomes a 400)."""

from django.contrib.auth import get_user_model
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from labeling.models import (
    Annotation,
    Image,
    Invitation,
    LabelClass,
    LabelStatus,
    Membership,
    Project,
    QueueStrategy,
    Role,
)
from labeling.models import Split as SplitChoice
from labelplatform.api.serializers import JSONBooleanField

SPLIT_CHOICES_WITH_AUTO = [("auto", "Automatic"), *SplitChoice.choices]


class CredentialsSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text='Send it as "Authorization: Token <token>".')


class LabelClassSerializer(serializers.ModelSerializer):
    class Meta:
        model = LabelClass
        fields = ["id", "name", "key", "color"]


class SplitRatiosSerializer(serializers.Serializer):
    """Percentages per split; they add up to 100. A split left out counts as 0."""

    train = serializers.IntegerField(min_value=0, max_value=100, required=False)
    validation = serializers.IntegerField(min_value=0, max_value=100, required=False)
    test = serializers.IntegerField(min_value=0, max_value=100, required=False)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                # A misspelt split would otherwise silently count as 0.
                raise serializers.ValidationError(
                    f"Unknown split(s): {', '.join(map(str, unknown))}; "
                    f"use {', '.join(self.fields)}."
                )
        return super().to_internal_value(data)


class SuggestionSplitsSerializer(serializers.Serializer):
    """Per split, whether annotators see the model's suggestions (off for test by default,
    so that the test split is labeled blind)."""

    train = JSONBooleanField(required=False)
    validation = JSONBooleanField(required=False)
    test = JSONBooleanField(required=False)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    f"Unknown split(s): {', '.join(map(str, unknown))}; "
                    f"use {', '.join(self.fields)}."
                )
        return super().to_internal_value(data)


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = Membership
        fields = ["username", "role", "created_at"]


class MembershipSetSerializer(serializers.Serializer):
    username = serializers.CharField()
    role = serializers.ChoiceField(choices=Role.choices)

    def validate_username(self, value: str):
        user = get_user_model().objects.filter(username=value).first()
        if user is None:
            raise serializers.ValidationError(f"No user named {value!r}.")
        return user


class ProjectSerializer(serializers.ModelSerializer):
    classes = LabelClassSerializer(many=True, read_only=True)
    split_ratios = SplitRatiosSerializer(read_only=True)
    suggestions = SuggestionSplitsSerializer(source="suggestion_splits", read_only=True)
    role = serializers.ChoiceField(
        choices=Role.choices,
        source="user_role",
        read_only=True,
        help_text="Your role in the project (staff act as owners).",
    )
    image_count = serializers.IntegerField(read_only=True)
    labeled_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Project
        fields = [
            "id",
            "name",
            "description",
            "classes",
            "split_ratios",
            "annotations_per_image",
            "queue_strategy",
            "suggestions",
            "role",
            "image_count",
            "labeled_count",
            "created_at",
        ]


class ProjectDetailSerializer(ProjectSerializer):
    members = serializers.SerializerMethodField()

    class Meta(ProjectSerializer.Meta):
        fields = [*ProjectSerializer.Meta.fields, "members"]

    @extend_schema_field(MembershipSerializer(many=True))
    def get_members(self, project: Project) -> list[dict]:
        return MembershipSerializer(self.context["members"], many=True).data  # type: ignore[return-value]


class ProjectCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    classes = serializers.ListField(
        child=serializers.CharField(max_length=100),
        help_text="Class names, two to nine; keys 1-9 are given in this order.",
    )
    split_ratios = SplitRatiosSerializer(required=False)
    annotations_per_image = serializers.IntegerField(min_value=1, max_value=100, default=1)
    queue_strategy = serializers.ChoiceField(
        choices=QueueStrategy.choices,
        required=False,
        help_text="The labeling queue's order (the project's default for GET .../queue/).",
    )
    suggestions = SuggestionSplitsSerializer(required=False)


class ProjectUpdateSerializer(serializers.Serializer):
    suggestions = SuggestionSplitsSerializer()


# `type: ignore[assignment]` on the fields named "label" (the API's key): the DRF stubs type
# Field.label, which such a field shadows, as a string (djangorestframework-stubs#78). And
# `type: ignore[return-value]` in get_members: with many=True a serializer's data is a list,
# which the stubs cannot tell.
class AnnotationSerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="user.username", read_only=True)
    label = serializers.CharField(source="label_class.name", read_only=True)  # type: ignore[assignment]

    class Meta:
        model = Annotation
        fields = ["id", "image", "user", "label", "from_suggestion", "created_at", "updated_at"]
        read_only_fields = fields


class AnnotationCreateSerializer(serializers.Serializer):
    label = serializers.CharField(help_text="A class name of the image's project.")  # type: ignore[assignment]


class ImageSerializer(serializers.ModelSerializer):
    """The JSON shape of an image: the API's, and (ImagePageSerializer) the site's own
    pages'. File URLs are absolute when serialized for a request (the API puts it in the
    context), paths otherwise (the pages, which send them to their own origin)."""

    url = serializers.SerializerMethodField(help_text="The image file (members only).")
    thumbnail_url = serializers.SerializerMethodField()
    label = serializers.CharField(  # type: ignore[assignment]
        source="label.name",
        read_only=True,
        allow_null=True,
        help_text="The consensus (or reviewed) class; null unless label_status is labeled.",
    )
    uploaded_by = serializers.CharField(
        source="uploaded_by.username", read_only=True, allow_null=True
    )
    annotations = AnnotationSerializer(many=True, read_only=True)

    class Meta:
        model = Image
        fields = [
            "id",
            "project",
            "url",
            "thumbnail_url",
            "original_name",
            "sha256",
            "width",
            "height",
            "format",
            "split",
            "label",
            "label_status",
            "label_reviewed",
            "uploaded_by",
            "created_at",
            "annotations",
        ]
        read_only_fields = fields

    def _url(self, view_name: str, image: Image) -> str:
        path = reverse(view_name, args=[image.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, image: Image) -> str:
        return self._url("labeling:image-file", image)

    @extend_schema_field(OpenApiTypes.URI)
    def get_thumbnail_url(self, image: Image) -> str:
        return self._url("labeling:image-thumbnail", image)


class SuggestionSerializer(serializers.Serializer):
    label = serializers.CharField(  # type: ignore[assignment]
        allow_null=True, help_text="The suggested class's name (null: a class deleted since)."
    )
    confidence = serializers.FloatField(help_text="The model's probability of it, 0-1.")


class ImageDetailSerializer(ImageSerializer):
    """An image as GET /api/images/{id}/ answers: with the active model version's suggestion,
    null when there is none or the project labels the image's split blind."""

    suggestion = serializers.SerializerMethodField()

    class Meta(ImageSerializer.Meta):
        fields = [*ImageSerializer.Meta.fields, "suggestion"]
        read_only_fields = fields

    @extend_schema_field(SuggestionSerializer(allow_null=True))
    def get_suggestion(self, image: Image) -> dict | None:
        suggestion = self.context.get("suggestion")
        return SuggestionSerializer(suggestion).data if suggestion else None


class ImagePageSerializer(ImageSerializer):
    """An image as the site's pages send it to their scripts (the labeling page's queue,
    the upload page's verdicts): the API's image without its annotations and upload
    details, plus the image's page on the site. Needs the label loaded with the image."""

    page_url = serializers.SerializerMethodField()

    class Meta(ImageSerializer.Meta):
        fields = [
            "id",
            "original_name",
            "split",
            "label",
            "width",
            "height",
            "url",
            "thumbnail_url",
            "page_url",
        ]
        read_only_fields = fields

    def get_page_url(self, image: Image) -> str:
        return self._url("labeling:image-detail", image)


class AnnotationBatchUndoSerializer(serializers.Serializer):
    undone = serializers.IntegerField(help_text="Images back to how they were before.")
    kept = serializers.IntegerField(
        help_text="Images you labeled again since: they keep the newer label."
    )


class SkipCreateSerializer(serializers.Serializer):
    image_id = serializers.IntegerField(
        min_value=1, help_text="An image of the project to leave out of your queue."
    )


class SkipSerializer(serializers.Serializer):
    """A skip; the context's `needing` is the set of its images' ids that still need the
    caller's label."""

    image_id = serializers.IntegerField()
    original_name = serializers.CharField(source="image.original_name")
    skipped_at = serializers.DateTimeField()
    needs_your_label = serializers.SerializerMethodField(
        help_text="False once the image no longer needs your label (labeled since, by you "
        "or by enough others): bringing it back would not put it in your queue."
    )

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_needs_your_label(self, skip) -> bool:
        return skip.image_id in self.context["needing"]


class SkipsRestoredSerializer(serializers.Serializer):
    restored = serializers.IntegerField(help_text="Skips brought back into your queue.")


class ImageSplitSerializer(serializers.Serializer):
    split = serializers.ChoiceField(choices=SplitChoice.choices)


class ImageUpdateSerializer(serializers.Serializer):
    """What owners change on an image: its split, whether it is gold (and its known label)."""

    split = serializers.ChoiceField(choices=SplitChoice.choices, required=False)
    gold = serializers.BooleanField(
        required=False,
        help_text="Gold: its label is known and measures annotators' accuracy. Marking needs "
        "`label`, or the image's current label.",
    )
    # Field.label is a field's title in DRF: this one shadows it, as ImageFilterSerializer's.
    label = serializers.CharField(  # type: ignore[assignment]
        required=False, help_text="With gold: the known label (a class name)."
    )

    def validate(self, attrs: dict) -> dict:
        if not attrs.keys() & {"split", "gold"}:
            raise serializers.ValidationError("Give split, gold or both.")
        if "label" in attrs and not attrs.get("gold"):
            raise serializers.ValidationError({"label": ["Only with gold: true."]})
        return attrs


class QualityParamsSerializer(serializers.Serializer):
    split = serializers.ChoiceField(
        choices=SplitChoice.choices, required=False, help_text="One split; all when left out."
    )


class AnnotatorPairSerializer(serializers.Serializer):
    annotators = serializers.ListField(
        child=serializers.CharField(), min_length=2, max_length=2, help_text="Usernames"
    )
    cohen_kappa = serializers.FloatField(
        allow_null=True, help_text="Null when undefined (both always gave one class)."
    )
    percent_agreement = serializers.FloatField()
    images = serializers.IntegerField(help_text="Images both labeled: what the figures rest on")


class AgreementSerializer(serializers.Serializer):
    split = serializers.CharField(allow_null=True)
    images = serializers.IntegerField(help_text="Images with two or more labels")
    percent_agreement = serializers.FloatField(allow_null=True)
    krippendorff_alpha = serializers.FloatField(
        allow_null=True, help_text="Nominal, across all annotators; null when undefined."
    )
    min_shared_images = serializers.IntegerField(
        help_text="Pairs of annotators sharing fewer images get no kappa."
    )
    pairs = AnnotatorPairSerializer(many=True)


# Not "Share": a component named like one of its fields makes openapi-python-client's
# generated from_dict reuse one local name for both (mypy rejects the generated module).
@extend_schema_serializer(component_name="ShareOfImages")
class ShareSerializer(serializers.Serializer):
    share = serializers.FloatField(allow_null=True, help_text="0-1; null when images is 0")
    images = serializers.IntegerField()


class AnnotatorFiguresSerializer(serializers.Serializer):
    user_id = serializers.IntegerField()
    username = serializers.CharField()
    labels = serializers.IntegerField()
    agreement_with_final = ShareSerializer(
        help_text="Their labels that match the final label (consensus or review)."
    )
    gold_accuracy = ShareSerializer(help_text="Their labels on gold images that are right.")
    accepted_suggestions = ShareSerializer(
        help_text="Their labels that accepted the model's suggestion, of all their labels."
    )
    median_seconds_per_label = serializers.FloatField(
        allow_null=True, help_text="Between consecutive labels, breaks over 10 min left out."
    )
    skips = serializers.IntegerField(
        help_text="Images they skipped, including those brought back since (an undone skip "
        "is not counted)."
    )
    skipped_now = serializers.IntegerField(
        help_text="Images they skipped and have not brought back yet."
    )


class ImageFilterSerializer(serializers.Serializer):
    split = serializers.ChoiceField(choices=SplitChoice.choices, required=False)
    label = serializers.CharField(required=False, help_text="A class name (consensus label).")  # type: ignore[assignment]
    status = serializers.ChoiceField(choices=LabelStatus.choices, required=False)


class ImageUploadSerializer(serializers.Serializer):
    files = serializers.ListField(
        # Empty files reach ingest, which rejects them per file like any other bad file.
        child=serializers.FileField(allow_empty_file=True),
        allow_empty=False,
        help_text="One or many images, or .zip files of images.",
    )
    split = serializers.ChoiceField(choices=SPLIT_CHOICES_WITH_AUTO, default="auto")
    label = serializers.CharField(  # type: ignore[assignment]
        required=False,
        allow_blank=True,
        help_text="A class name: recorded as your annotation on every stored image.",
    )

    def to_internal_value(self, data):
        # A misspelt field ("spilt=test") would otherwise be ignored and the images auto-split
        # without a word; the browser's upload form also sends its CSRF token.
        unknown = sorted(set(data) - set(self.fields) - {"csrfmiddlewaretoken"})
        if unknown:
            raise serializers.ValidationError(
                {
                    "non_field_errors": [
                        f"Unknown field(s): {', '.join(unknown)}; "
                        f"expected {', '.join(self.fields)}."
                    ]
                }
            )
        # DRF reads an empty form field as absent, which would silently mean "auto".
        if data.get("split") == "":
            raise serializers.ValidationError(
                {"split": ["Choose auto, train, validation or test (or leave the field out)."]}
            )
        return super().to_internal_value(data)


class IngestCreatedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sha256 = serializers.CharField()
    split = serializers.ChoiceField(choices=SplitChoice.choices)
    label = serializers.CharField(allow_null=True)  # type: ignore[assignment]


class IngestDuplicateSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="The uploaded file's name.")
    id = serializers.IntegerField(help_text="The stored image it duplicates.")


class IngestRejectedSerializer(serializers.Serializer):
    name = serializers.CharField()
    error = serializers.CharField()


class IngestReportSerializer(serializers.Serializer):
    created = IngestCreatedSerializer(many=True)
    duplicates = IngestDuplicateSerializer(many=True)
    rejected = IngestRejectedSerializer(many=True)


class IngestStorageFailureSerializer(IngestReportSerializer):
    detail = serializers.CharField(help_text="What failed, and how many files were not stored.")


class StatsRowSerializer(serializers.Serializer):
    split = serializers.ChoiceField(choices=SplitChoice.choices)
    label = serializers.CharField(allow_null=True, help_text="Class name; null unless labeled.")  # type: ignore[assignment]
    status = serializers.ChoiceField(choices=LabelStatus.choices)
    count = serializers.IntegerField()


class SplitTotalsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    labeled = serializers.IntegerField()
    unlabeled = serializers.IntegerField()
    conflict = serializers.IntegerField()


class SplitsTotalsSerializer(serializers.Serializer):
    train = SplitTotalsSerializer()
    validation = SplitTotalsSerializer()
    test = SplitTotalsSerializer()


class ProjectStatsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    splits = SplitsTotalsSerializer()
    counts = StatsRowSerializer(
        many=True, help_text="Every split x class x status, zeros included."
    )


class ExportParamsSerializer(serializers.Serializer):
    format = serializers.ChoiceField(
        choices=[
            ("zip", "ImageFolder zip of the labeled images"),
            ("csv", "Labels as CSV"),
            ("json", "Labels as JSON"),
        ],
        default="zip",
    )


class ExportedProjectSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    split_ratios = SplitRatiosSerializer()
    annotations_per_image = serializers.IntegerField()


class ExportedClassSerializer(serializers.Serializer):
    name = serializers.CharField()
    key = serializers.CharField()
    color = serializers.CharField()


class ExportedAnnotationSerializer(serializers.Serializer):
    user = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    from_suggestion = serializers.BooleanField()
    updated_at = serializers.DateTimeField()


class ExportedImageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    original_name = serializers.CharField()
    sha256 = serializers.CharField()
    split = serializers.ChoiceField(choices=SplitChoice.choices)
    label = serializers.CharField(  # type: ignore[assignment]
        allow_null=True, help_text="The consensus label, if any."
    )
    label_status = serializers.ChoiceField(choices=LabelStatus.choices)
    label_reviewed = serializers.BooleanField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    format = serializers.CharField()
    zip_path = serializers.CharField(
        allow_null=True, help_text="Where the dataset zip holds it (labeled images only)."
    )
    created_at = serializers.DateTimeField()
    annotations = ExportedAnnotationSerializer(many=True)


class LabelsExportSerializer(serializers.Serializer):
    """The JSON export (labeling.export.labels_json_export): for the schema only, the export
    streams it."""

    project = ExportedProjectSerializer()
    classes = ExportedClassSerializer(many=True)
    exported_at = serializers.DateTimeField()
    images = ExportedImageSerializer(many=True)


INVITATION_STATES = [(state, state) for state in ("open", "accepted", "revoked", "expired")]


class InvitationSerializer(serializers.ModelSerializer):
    state = serializers.ChoiceField(choices=INVITATION_STATES, read_only=True)
    email = serializers.CharField(read_only=True, help_text="Empty for a link passed on by hand.")
    accepted_by = serializers.CharField(
        source="accepted_by.username", read_only=True, allow_null=True
    )

    class Meta:
        model = Invitation
        fields = ["id", "email", "role", "state", "created_at", "expires_at", "accepted_by"]
        read_only_fields = fields


class InvitationCreatedSerializer(InvitationSerializer):
    link = serializers.URLField(read_only=True, help_text="Single use; shown this once.")

    class Meta(InvitationSerializer.Meta):
        fields = [*InvitationSerializer.Meta.fields, "link"]
        read_only_fields = fields


class InvitationCreateSerializer(serializers.Serializer):
    email = serializers.EmailField(
        required=False, allow_blank=True, help_text="Mailed the link when given."
    )
    role = serializers.ChoiceField(choices=Role.choices, default=Role.ANNOTATOR)
