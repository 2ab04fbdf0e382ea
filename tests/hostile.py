"""A world where every name a user chooses holds markup: for the stored-XSS tests
(tests/test_stored_xss.py) and the browser's (tests/browser/test_hostile_names.py)."""

from django.contrib.auth.models import Group
from django.utils import timezone
from rest_framework.authtoken.models import Token

from classifier.models import Embedding, JobStatus, ModelVersionStatus
from labeling import services
from labeling.models import Role
from tests.classifier.factories import (
    ModelVersionFactory,
    PredictionFactory,
    PredictionJobFactory,
    TrainingRunFactory,
)
from tests.factories import ImageFactory, UserFactory

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
# What must never reach a page as it is.
RAW = (SCRIPT, "<img src=x onerror=alert(1)>")

PROJECT_NAME = f"Coffee {SCRIPT}{IMG}"
DESCRIPTION = f"About {IMG}"
CLASS_A = f"mug {IMG}"
CLASS_B = f"cup {SCRIPT}"
IMAGE_NAME = f"photo {IMG}{SCRIPT}.png"
OWNER_NAME = f"own{IMG}"
ANNOTATOR_NAME = f"ann{SCRIPT}"
NEWCOMER_NAME = f"new{IMG}"
ERROR = f"MemoryError {SCRIPT}"
REASON = f"Activated {IMG}"
WORKER = f"training@{IMG}"


def hostile_metrics() -> dict:
    names = [CLASS_A, CLASS_B]
    return {
        "accuracy": 0.9,
        "loss": 0.2,
        "validation_accuracy": 0.9,
        "validation_loss": 0.2,
        "class_names": names,
        "per_class": {n: {"precision": 0.9, "recall": 0.9, "f1": 0.9, "support": 5} for n in names},
        "confusion_matrix": [[4, 1], [1, 4]],
        "history": {
            key: [0.5, 0.4, 0.3] for key in ("loss", "val_loss", "accuracy", "val_accuracy")
        },
        "best_epoch": 3,
    }


class Hostile:
    """A project where every free text holds markup, with a model, jobs and predictions."""

    def __init__(self):
        self.owner = UserFactory(username=OWNER_NAME, is_staff=True, is_superuser=True)
        self.annotator = UserFactory(username=ANNOTATOR_NAME)
        self.newcomer = UserFactory(username=NEWCOMER_NAME)
        self.project = services.project_create(
            name=PROJECT_NAME,
            description=DESCRIPTION,
            created_by=self.owner,
            classes=[CLASS_A, CLASS_B],
            annotations_per_image=2,
        )
        services.membership_set(project=self.project, user=self.annotator, role=Role.ANNOTATOR)
        self.class_a = self.project.classes.get(name=CLASS_A)
        self.class_b = self.project.classes.get(name=CLASS_B)
        self.image = ImageFactory(
            project=self.project, original_name=IMAGE_NAME, uploaded_by=self.owner
        )
        # Two annotators disagree: a conflict, listed on the owner's dashboard.
        services.annotation_create(image=self.image, user=self.owner, label_class=self.class_a)
        services.annotation_create(image=self.image, user=self.annotator, label_class=self.class_b)
        self.unlabeled = ImageFactory(project=self.project, original_name=f"new {IMG}.png")
        self.run = TrainingRunFactory(
            project=self.project,
            requested_by=self.owner,
            status=JobStatus.FAILED,
            error=ERROR,
            worker=WORKER,
            started_at=timezone.now(),
            finished_at=timezone.now(),
        )
        self.queued_run = TrainingRunFactory(
            project=self.project,
            requested_by=self.annotator,
            status=JobStatus.QUEUED,
            dispatch_error=f"Redis down {SCRIPT}",
        )
        self.version = ModelVersionFactory(
            project=self.project,
            version=1,
            status=ModelVersionStatus.ACTIVE,
            status_reason=REASON,
            metrics=hostile_metrics(),
            training_run=self.run,
            activated_by=self.owner,
            activated_at=timezone.now(),
        )
        for image in (self.image, self.unlabeled):
            PredictionFactory(
                model_version=self.version,
                image=image,
                label=self.class_a,
                confidence=0.9,
                probabilities={CLASS_A: 0.9, CLASS_B: 0.1},
            )
        self.prediction_job = PredictionJobFactory(
            model_version=self.version,
            requested_by=self.annotator,
            status=JobStatus.FAILED,
            error=ERROR,
            worker=WORKER,
        )
        self.token = Token.objects.create(user=self.owner)
        self.group = Group.objects.create(name=f"group {IMG}")
        self.embedding = Embedding.objects.create(
            sha256=self.image.sha256, backbone=f"bb{SCRIPT}"[:64], dim=2, vector=b"\0" * 8
        )
