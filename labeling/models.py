"""Projects, their label classes and members, images and the annotations on them."""

from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class Split(models.TextChoices):
    TRAIN = "train", "Train"
    VALIDATION = "validation", "Validation"
    TEST = "test", "Test"


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ANNOTATOR = "annotator", "Annotator"
    VIEWER = "viewer", "Viewer"


class LabelStatus(models.TextChoices):
    UNLABELED = "unlabeled", "Unlabeled"
    LABELED = "labeled", "Labeled"
    CONFLICT = "conflict", "Conflict"


class QueueStrategy(models.TextChoices):
    """The order in which the labeling queue offers a project's images. The prediction
    worker computes the orderings (classifier.worker.labeling_queue says how)."""

    SEQUENTIAL = "sequential", "Sequential (upload order)"
    RANDOM = "random", "Random"
    LEAST_CONFIDENCE = "least_confidence", "Least confidence"
    MARGIN = "margin", "Smallest margin"
    ENTROPY = "entropy", "Highest entropy"
    DIVERSITY = "diversity", "Diversity (k-center greedy)"
    BALANCED = "balanced", "Class-balanced mix"
    WARM_START = "warm_start", "Warm start (random, then least confidence)"


class Project(models.Model):
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    # Split ratios in percent; they add up to 100 (checked in clean() and by a constraint).
    train_percent = models.PositiveSmallIntegerField(default=60)
    validation_percent = models.PositiveSmallIntegerField(default=20)
    test_percent = models.PositiveSmallIntegerField(default=20)
    annotations_per_image = models.PositiveSmallIntegerField(default=1)
    # Percent of the images an annotator is shown that are gold images (known label, not
    # marked as such on the page), while gold images they have not labeled remain.
    gold_percent = models.PositiveSmallIntegerField(
        default=10,
        validators=[MaxValueValidator(100)],
        help_text="Share of annotators' queues taken by gold images, in percent",
    )
    # The classifier's settings of the project (classifier.services read them).
    backbone = models.CharField(
        max_length=64,
        blank=True,
        help_text="The pretrained network its models embed images with; blank: the platform's "
        "default (CLASSIFIER_BACKBONE).",
    )
    promotion_recall_margin = models.FloatField(
        default=0.02,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="A new model version becomes active only if no class's validation recall "
        "drops by more than this (0.02 = 2 points) against the active version.",
    )
    unsure_threshold = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Predictions less confident than this are shown as unsure. Blank: each "
        "version's own default, the lowest confidence at which every class keeps a test "
        "precision of at least 99%.",
    )
    # The labeling queue's order for everyone in the project (the API takes another per
    # request). The default is the winner of bench/active_learning.py.
    queue_strategy = models.CharField(
        max_length=32, choices=QueueStrategy.choices, default=QueueStrategy.WARM_START
    )
    # Whether annotators see the active model's suggestion while labeling, per split. The
    # test split is labeled blind by default: its labels measure the model, and an annotator
    # shown the model's answer tends to agree with it, which would flatter the test accuracy.
    suggestions_train = models.BooleanField(
        "suggestions on train", default=True, help_text="Annotators see the model's suggestion."
    )
    suggestions_validation = models.BooleanField(
        "suggestions on validation",
        default=True,
        help_text="Annotators see the model's suggestion.",
    )
    suggestions_test = models.BooleanField(
        "suggestions on test",
        default=False,
        help_text="Off by default: test labels that echo the model would flatter its accuracy.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    members: "models.ManyToManyField[User, Membership]" = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="projects"
    )

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    train_percent__gte=0, validation_percent__gte=0, test_percent__gte=0
                ),
                name="project_split_percents_non_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(annotations_per_image__gte=1),
                name="project_annotations_per_image_positive",
            ),
            models.CheckConstraint(
                condition=models.Q(gold_percent__lte=100), name="project_gold_percent_max_100"
            ),
            # Two projects of one owner with the same name look identical on the home page
            # and in the admin; the name is compared as people read it, case aside.
            models.UniqueConstraint(
                "created_by",
                Lower("name"),
                name="project_unique_name_per_owner",
                violation_error_message="This owner already has a project with this name.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("labeling:project-dashboard", args=[self.pk])

    def clean(self) -> None:
        if self.train_percent + self.validation_percent + self.test_percent != 100:
            raise ValidationError("Split ratios must add up to 100.")

    @property
    def split_ratios(self) -> dict[str, int]:
        return {
            Split.TRAIN: self.train_percent,
            Split.VALIDATION: self.validation_percent,
            Split.TEST: self.test_percent,
        }

    @property
    def suggestion_splits(self) -> dict[str, bool]:
        """{split: whether annotators see the model's suggestions on its images}."""
        return {
            Split.TRAIN: self.suggestions_train,
            Split.VALIDATION: self.suggestions_validation,
            Split.TEST: self.suggestions_test,
        }

    def shows_suggestions(self, split: str) -> bool:
        return self.suggestion_splits.get(split, False)


# A class colour lands in style= attributes (badges, buttons, swatches): escaping keeps it from
# breaking out of the attribute, but only a strict #rrggbb keeps it from styling anything else.
class_color_validator = RegexValidator(
    r"\A#[0-9a-fA-F]{6}\Z", "Enter a colour as # and six hex digits, like #1f77b4."
)


class LabelClass(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="classes")
    name = models.CharField(max_length=100)
    # The key that picks this class on the labeling page ("1".."9" by default).
    key = models.CharField(max_length=1)
    color = models.CharField(
        max_length=7, default="#0d6efd", validators=[class_color_validator], help_text="#rrggbb"
    )
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["project", "order", "id"]
        verbose_name_plural = "label classes"
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="labelclass_unique_name"),
            models.UniqueConstraint(fields=["project", "key"], name="labelclass_unique_key"),
        ]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ANNOTATOR)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "user"]
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="membership_unique_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) in {self.project}"


def image_upload_to(image: "Image", filename: str) -> str:
    # Content-addressed names: unguessable without the hash, never two files for one image.
    extension = image.format.lower()
    return f"projects/{image.project_id}/images/{image.sha256[:2]}/{image.sha256}.{extension}"


def thumbnail_upload_to(image: "Image", filename: str) -> str:
    return f"projects/{image.project_id}/thumbnails/{image.sha256[:2]}/{image.sha256}.jpg"


class Image(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="images")
    file = models.FileField(upload_to=image_upload_to, max_length=300)
    thumbnail = models.FileField(upload_to=thumbnail_upload_to, max_length=300, blank=True)
    original_name = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    # Pillow's format name of the stored file: JPEG, PNG, WEBP, GIF, BMP.
    format = models.CharField(max_length=10)
    split = models.CharField(max_length=16, choices=Split.choices)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # The consensus of the annotations (labeling.services.image_consensus_update), or an
    # owner's review decision. Only set when label_status is "labeled".
    label = models.ForeignKey(
        LabelClass, on_delete=models.SET_NULL, null=True, blank=True, related_name="images"
    )
    label_status = models.CharField(
        max_length=16, choices=LabelStatus.choices, default=LabelStatus.UNLABELED
    )
    # True when an owner settled the label; new annotations no longer change it.
    label_reviewed = models.BooleanField(default=False)
    # A gold image: an owner vouches for its (reviewed) label, and annotators' labels on it
    # measure their accuracy. An ordinary labeled image for training and export.
    gold = models.BooleanField(default=False)
    # Difference hashes of the picture and of its mirror image (16 hex digits), so an upload
    # of a copy lands in its original's split (labeling.near_copies); blank before they
    # existed.
    visual_hash = models.CharField(max_length=16, blank=True)
    visual_hash_mirrored = models.CharField(max_length=16, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "sha256"], name="image_unique_sha256")
        ]
        indexes = [
            models.Index(fields=["project", "split", "label_status"]),
            models.Index(fields=["project", "label_status", "created_at"]),
            # A project's images in list order (the gallery, grid and API pages, newest
            # uploads on the dashboard): a page's ids are read off this index.
            models.Index(fields=["project", "created_at", "id"]),
            # Uploads per member on the dashboard, counted off the index.
            models.Index(fields=["project", "uploaded_by"]),
            # The gold images an annotator's queue mixes in.
            models.Index(
                fields=["project", "gold"], condition=models.Q(gold=True), name="image_gold"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.sha256[:8]})"

    def get_absolute_url(self) -> str:
        return reverse("labeling:image-detail", args=[self.pk])


class Annotation(models.Model):
    """One user's label for one image; labeling again replaces it."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="annotations")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="annotations"
    )
    label_class = models.ForeignKey(LabelClass, on_delete=models.CASCADE, related_name="+")
    # True when the user accepted the model's suggestion rather than choosing the class:
    # agreement and quality figures tell the two apart (an accepted suggestion is weaker
    # evidence that the model is right).
    from_suggestion = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["image", "created_at"]
        constraints = [
            models.UniqueConstraint(fields=["image", "user"], name="annotation_one_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.label_class} on image {self.image_id}"


class Invitation(models.Model):
    """An owner's invitation into a project with a role: a single-use link (mailed, or
    copied by the owner), valid until it expires, is revoked, or is accepted once.

    Only the sha256 of the link's token is stored: the database alone opens no project.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="invitations")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ANNOTATOR)
    # Blank for a link the owner passes on themselves.
    email = models.EmailField(blank=True)
    token_sha256 = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Invitation of {self.email or 'a link'} to {self.project} as {self.role}"

    @property
    def state(self) -> str:
        """ "accepted", "revoked", "expired" or "open"."""
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "open"


class ImageTally(models.Model):
    """How many of a project's images are in each (split, status, label): counts kept by the
    database, so the labeling page's progress and the dashboard's table never count a large
    project's images in a request.

    On PostgreSQL, triggers on the images table keep these rows (migration 0011): every
    insert, update and delete, whoever makes it (services, bulk updates, cascades), adds its
    change in the same transaction. Elsewhere (SQLite, small projects) the rows stay empty and
    the selectors count the images instead (labeling.selectors.projects). Plain integer
    columns, no foreign keys: a deleted class's images read as labeled without a class, and a
    deleted project's rows fall to zero and are removed by the same triggers.
    """

    project_id = models.IntegerField()
    split = models.CharField(max_length=16)
    label_status = models.CharField(max_length=16)
    # The image's label id, 0 for none (a unique key needs a value, not NULL).
    label_key = models.IntegerField(default=0)
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project_id", "split", "label_status", "label_key"],
                name="imagetally_unique_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.count} {self.label_status} in {self.split} of project {self.project_id}"


class MemberTally(models.Model):
    """Each person's annotations and uploads in a project, kept by the database like
    ImageTally (PostgreSQL triggers on the annotations and images tables, migration 0012) for
    the dashboard's member list. `last_annotated_at` is the newest annotation ever made or
    changed (an undone label leaves it as it was)."""

    project_id = models.IntegerField()
    user_id = models.IntegerField()  # 0: uploads of a deleted user
    annotations = models.BigIntegerField(default=0)
    uploads = models.BigIntegerField(default=0)
    last_annotated_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project_id", "user_id"], name="membertally_unique_key")
        ]

    def __str__(self) -> str:
        return f"user {self.user_id} in project {self.project_id}"


class AnnotationBatchKind(models.TextChoices):
    GRID_LABEL = "grid_label", "Grid label"
    SUGGESTIONS_ACCEPT = "suggestions_accept", "Suggestions accepted"


class AnnotationBatch(models.Model):
    """One bulk labeling action by one user (a class applied in the grid, suggestions
    accepted in bulk), remembered so that it can be undone.

    `changes` holds, per image it touched, [image id, class applied, the user's class before
    (null if none), whether that earlier annotation came from a suggestion]."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=32, choices=AnnotationBatchKind.choices)
    changes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    undone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "annotation batches"

    def __str__(self) -> str:
        return f"{self.get_kind_display()} by {self.user}: {len(self.changes)} images"

    @property
    def size(self) -> int:
        return len(self.changes)


class ImageSkip(models.Model):
    """A user's skip of an image: the image stays out of their labeling queue (the page's and
    the API's) until they bring it back, across logins and clients.

    A skip brought back ("show skipped") keeps its row with `restored_at` set, so the
    annotator figures can count the skips a person made; an undone skip (a mistake taken back
    at once) leaves no row. Skipping the image again reopens the row."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="skips")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    skipped_at = models.DateTimeField(default=timezone.now)
    restored_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["skipped_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "image"], name="imageskip_one_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} skipped image {self.image_id}"

    @property
    def is_open(self) -> bool:
        return self.restored_at is None
