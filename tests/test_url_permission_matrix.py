"""Every URL of the site against every kind of caller, in one table.

Callers: a project's owner, annotator and viewer, a user outside the project, an anonymous
visitor, and staff (is_staff with every admin permission, not a superuser: staff act as owners
in every project). The URLs are found by walking the URL resolver, the admin's and DRF's
patterns included, so a URL without a rule here fails the suite
(test_every_url_has_a_rule).

The rules, as the table says them row by row:
- pages: anonymous visitors go to the login page; a project you are not a member of does not
  exist for you (404); a member whose role is too low gets 403; staff act as owners;
- the API: the same, but an anonymous caller gets a JSON 401 and every error is JSON;
- the media URLs: as pages, and they also accept the API token;
- the admin: staff get the page; anyone else is sent to the admin's login page. Each
  registered model's admin views are covered generically (ADMIN_VIEWS), with the few places
  where an admin refuses even staff written down in ADMIN_REFUSES_STAFF.
Paths outside the URLconf (/healthz, static files, stored files' names) have rules too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.authtoken.models import Token, TokenProxy
from rest_framework.test import APIClient

from classifier.models import (
    DataIssue,
    DataIssueKind,
    Embedding,
    HealthCheck,
    JobStatus,
    LabelCheckDecision,
    LabelCheckReview,
    ModelExport,
    ModelVersion,
    ModelVersionStatus,
    Prediction,
    PredictionJob,
    TrainingRun,
)
from labeling.invitations import invitation_create
from labeling.models import (
    Annotation,
    AnnotationBatch,
    Image,
    ImageSkip,
    Invitation,
    LabelClass,
    Membership,
    Project,
    Role,
    Split,
)
from labeling.services import annotations_create_bulk, image_skip
from tests.classifier.factories import (
    ModelVersionFactory,
    PredictionFactory,
    PredictionJobFactory,
    TrainingRunFactory,
)
from tests.factories import ImageFactory, MembershipFactory, UserFactory, png_bytes
from tests.support.broker import broker_use
from tests.support.labeled_images import labeled_image
from tests.support.processes import free_port
from webhooks.models import DeliveryStatus, Webhook, WebhookDelivery

CALLERS = ("owner", "annotator", "viewer", "outsider", "anonymous", "staff")
PASSWORD = "password"  # tests.factories.UserFactory's

# Expected answers besides a plain status code.
LOGIN = "login"  # 302 to the site's login page, with ?next= this URL
ADMIN_LOGIN = "admin-login"  # 302 to the admin's login page, with ?next= this URL


# ------------------------------------------------------------------------------------------
# The world every request runs in: built lazily, so a case creates only what it touches.
# ------------------------------------------------------------------------------------------


class World:
    def __init__(self, *, project, owner, annotator, viewer, outsider):
        self.project, self.owner = project, owner
        self.users = {
            "owner": owner,
            "annotator": annotator,
            "viewer": viewer,
            "outsider": outsider,
            "anonymous": None,
        }

    @cached_property
    def staff(self):
        user = UserFactory(username="stella-staff", is_staff=True)
        user.user_permissions.set(Permission.objects.all())
        return user

    def user(self, caller: str):
        return self.staff if caller == "staff" else self.users[caller]

    @cached_property
    def image(self) -> Image:
        return ImageFactory(project=self.project, uploaded_by=self.owner)

    @cached_property
    def coffee(self) -> LabelClass:
        return self.project.classes.get(name="coffee")

    @cached_property
    def member(self):
        """A member the owners' buttons act on (change the role of, remove)."""
        return MembershipFactory(project=self.project, role=Role.ANNOTATOR).user

    @cached_property
    def newcomer(self):
        """A user outside every project, whom owners add."""
        return UserFactory(username="newcomer")

    @cached_property
    def version(self) -> ModelVersion:
        """The project's active version: predictions need one."""
        return ModelVersionFactory(
            project=self.project, version=1, status=ModelVersionStatus.ACTIVE
        )

    @cached_property
    def candidate(self) -> ModelVersion:
        self.version  # noqa: B018  (activating a candidate retires the active one)
        return ModelVersionFactory(project=self.project, version=2)

    @cached_property
    def trainable(self) -> Project:
        """The project with labeled images of every class in every split, as training needs."""
        for seed, (label, split) in enumerate(
            (label, split) for label in ("coffee", "other") for split in Split.values
        ):
            labeled_image(self.project, label=label, split=split, seed=seed + 100)
        return self.project

    @cached_property
    def queued_run(self) -> TrainingRun:
        return TrainingRunFactory(project=self.project, status=JobStatus.QUEUED)

    @cached_property
    def finished_run(self) -> TrainingRun:
        return TrainingRunFactory(project=self.project, status=JobStatus.SUCCEEDED)

    @cached_property
    def prediction_job(self) -> PredictionJob:
        return PredictionJobFactory(model_version=self.version, status=JobStatus.SUCCEEDED)

    @cached_property
    def model_export(self) -> ModelExport:
        export = ModelExport.objects.create(
            model_version=self.version, format="keras", status=JobStatus.SUCCEEDED
        )
        export.file.save("model.keras", ContentFile(b"a model"))
        return export

    @cached_property
    def health_check(self) -> HealthCheck:
        return HealthCheck.objects.create(project=self.project, status=JobStatus.SUCCEEDED)

    @cached_property
    def label_error(self) -> DataIssue:
        image = labeled_image(self.project, label="other", split=Split.TRAIN, seed=4321)
        return DataIssue.objects.create(
            project=self.project, health_check=self.health_check, kind=DataIssueKind.LABEL_ERROR,
            score=0.9, image_ids=[image.pk], image=image,
            detail={"given_label_id": image.label_id, "suggested_label_id": self.coffee.pk},
        )  # fmt: skip

    @cached_property
    def label_check_review(self) -> LabelCheckReview:
        return LabelCheckReview.objects.create(
            image=self.label_error.image, label=self.label_error.image.label,
            decision=LabelCheckDecision.KEPT, reviewed_by=self.owner,
        )  # fmt: skip

    @cached_property
    def image_skip(self) -> ImageSkip:
        return image_skip(image=self.image, user=self.users["annotator"])

    @cached_property
    def prediction(self) -> Prediction:
        return PredictionFactory(model_version=self.version, image=self.image)

    @cached_property
    def annotation(self) -> Annotation:
        return Annotation.objects.create(
            image=self.image, user=self.users["annotator"], label_class=self.coffee
        )

    @cached_property
    def batch(self) -> AnnotationBatch:
        """A bulk action of the owner's: only they may undo it (others get a 404)."""
        return annotations_create_bulk(
            image_ids=[self.image.pk], user=self.owner, label_class=self.coffee
        )

    @cached_property
    def everyones_image(self) -> Image:
        """An image every caller labeled and skipped, so their undo of either finds one."""
        image = ImageFactory(project=self.project, uploaded_by=self.owner)
        for user in [*filter(None, self.users.values()), self.staff]:
            Annotation.objects.create(image=image, user=user, label_class=self.coffee)
            image_skip(image=image, user=user)
        return image

    @cached_property
    def embedding(self) -> Embedding:
        return Embedding.objects.create(
            sha256=self.image.sha256, backbone="tiny", dim=2, vector=b"\0" * 8
        )

    @cached_property
    def invitation(self) -> tuple[Invitation, str]:
        return invitation_create(project=self.project, role=Role.ANNOTATOR, invited_by=self.owner)

    @cached_property
    def webhook(self) -> Webhook:
        return Webhook.objects.create(
            project=self.project,
            url="https://example.com/hook",
            secret="s",
            events=["image.labeled"],
        )

    @cached_property
    def webhook_delivery(self) -> WebhookDelivery:
        # Sent already: "send again" makes a new one (whose message no worker takes here).
        return WebhookDelivery.objects.create(
            webhook=self.webhook, event="image.labeled", status=DeliveryStatus.SUCCEEDED
        )

    @cached_property
    def access_attempt(self) -> AccessAttempt:
        return AccessAttempt.objects.create(
            username="oscar", ip_address="203.0.113.9", user_agent="test", failures_since_start=5
        )

    @cached_property
    def access_log(self) -> AccessLog:
        return AccessLog.objects.create(
            username="oscar", ip_address="203.0.113.9", user_agent="test"
        )

    @cached_property
    def access_failure_log(self) -> AccessFailureLog:
        return AccessFailureLog.objects.create(
            username="oscar", ip_address="203.0.113.9", user_agent="test"
        )

    @cached_property
    def group(self) -> Group:
        return Group.objects.create(name="reviewers")

    @cached_property
    def token(self) -> Token:
        return Token.objects.get_or_create(user=self.owner)[0]


# ------------------------------------------------------------------------------------------
# The table
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    url: str  # a URL name ("admin:..." in the admin), or the route of an unnamed pattern
    method: str
    kwargs: Callable[[World], dict]
    # One per CALLERS: owner, annotator, viewer, outsider, anonymous, staff.
    expected: tuple
    body: Callable[[World], dict] | None = None
    format: str | None = None  # "json" or "multipart" (API); None: form-encoded
    query: str = ""
    headers: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.url}"


def no_args(world: World) -> dict:
    return {}


def of_project(world: World) -> dict:
    return {"pk": world.project.pk}


def of_image(world: World) -> dict:
    return {"pk": world.image.pk}


def of_member(world: World) -> dict:
    return {"pk": world.project.pk, "user_id": world.member.pk}


def api_project(world: World) -> dict:
    return {"project_id": world.project.pk}


def api_image(world: World) -> dict:
    return {"image_id": world.image.pk}


def trainable_project(world: World) -> dict:
    return {"project_id": world.trainable.pk}


def images_to_predict(world: World) -> dict:
    world.version  # noqa: B018  (predictions need an active version)
    return {"image_ids": [world.image.pk]}


def png_upload(name: str = "new.png", seed: int = 987654) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, png_bytes(seed=seed), content_type="image/png")


def files_to_predict(world: World) -> dict:
    world.version  # noqa: B018  (predictions need an active version)
    return {"files": [png_upload()]}


JSON = {"Accept": "application/json"}

# Pages. A project's pages:    owner annot viewer outsider anonymous staff
READ = (200, 200, 200, 404, LOGIN, 200)  # viewers and up
ANNOTATE_PAGE = (200, 200, 403, 404, LOGIN, 200)  # annotators and up
OWNER_BUTTON = (302, 403, 403, 404, LOGIN, 302)  # owners' POST buttons, back to a page
ANNOTATOR_BUTTON = (302, 302, 403, 404, LOGIN, 302)
ANY_USER = (200, 200, 200, 200, LOGIN, 200)  # any logged-in user
OWNER_PAGE = (200, 403, 403, 404, LOGIN, 200)

PAGE_CASES = [
    Case("labeling:home", "get", no_args, ANY_USER),
    Case("labeling:project-create", "get", no_args, ANY_USER),
    Case("labeling:project-create", "post", no_args, (302, 302, 302, 302, LOGIN, 302),
         body=lambda w: {
        "name": "New", "train_percent": 60, "validation_percent": 20, "test_percent": 20,
        "annotations_per_image": 1, "classes-TOTAL_FORMS": 2, "classes-INITIAL_FORMS": 0,
        "classes-0-name": "a", "classes-0-key": "1", "classes-0-color": "#112233",
        "classes-1-name": "b", "classes-1-key": "2", "classes-1-color": "#445566"}),
    Case("labeling:project-dashboard", "get", of_project, READ),
    # Everyone's own profile and API token.
    Case("labeling:profile", "get", no_args, ANY_USER),
    Case("labeling:profile-token-replace", "post", no_args, ANY_USER),
    Case("labeling:profile-token-revoke", "post", no_args, (302, 302, 302, 302, LOGIN, 302)),
    Case("labeling:project-gallery", "get", of_project, READ),
    Case("classifier:project-models", "get", of_project, READ),
    Case("classifier:project-jobs", "get", of_project, READ),
    Case("classifier:project-predict", "get", of_project, ANNOTATE_PAGE),
    Case("classifier:project-jobs-fragment", "get", of_project, READ),
    Case("classifier:project-workers", "get", of_project, READ),
    Case("labeling:image-detail", "get", of_image, READ),
    Case("labeling:project-upload", "get", of_project, ANNOTATE_PAGE),
    Case("labeling:project-upload", "post", of_project, (201, 201, 403, 404, LOGIN, 201),
         headers=JSON, body=lambda w: {"split": "auto", "files": png_upload()}),
    Case("labeling:project-label", "get", of_project, ANNOTATE_PAGE),
    # Every member: owners see the whole team's figures, others their own.
    Case("labeling:project-quality", "get", of_project, READ),
    Case("labeling:project-invitations", "get", of_project, OWNER_PAGE),
    Case("webhooks:project-webhooks", "get", of_project, OWNER_PAGE),
    Case("webhooks:project-webhooks", "post", of_project, OWNER_PAGE,
         body=lambda w: {"url": "https://93.184.215.14/", "events": ["image.labeled"]}),
    Case("webhooks:webhook-delete", "post",
         lambda w: {"pk": w.project.pk, "webhook_id": w.webhook.pk}, OWNER_BUTTON),
    Case("webhooks:webhook-delivery-resend", "post",
         lambda w: {"pk": w.project.pk, "delivery_id": w.webhook_delivery.pk}, OWNER_BUTTON),
    Case("labeling:project-invitations", "post", of_project, OWNER_PAGE,
         body=lambda w: {"role": "viewer"}),
    Case("labeling:project-invitation-revoke", "post",
         lambda w: {"pk": w.project.pk, "invitation_id": w.invitation[0].pk}, OWNER_BUTTON),
    # The link is the credential: anyone holding it sees the invitation; a signed-in user
    # joins with it (anonymous visitors are shown the form again: no username given).
    Case("labeling:invitation-accept", "get", lambda w: {"token": w.invitation[1]},
         (200, 200, 200, 200, 200, 200)),
    Case("labeling:invitation-accept", "post", lambda w: {"token": w.invitation[1]},
         (302, 302, 302, 302, 200, 302)),
    Case("labeling:project-label-queue", "get", of_project, ANNOTATE_PAGE),
    Case("labeling:project-grid", "get", of_project, ANNOTATE_PAGE),
    Case("labeling:project-label-annotate", "post", of_project, (201, 201, 403, 404, LOGIN, 201),
         format="json", body=lambda w: {"image": w.image.pk, "label_class": w.coffee.pk}),
    Case("labeling:project-label-undo", "post", of_project, (200, 200, 403, 404, LOGIN, 200),
         format="json", body=lambda w: {"image": w.image.pk}),
    Case("labeling:project-label-skip", "post", of_project, (200, 200, 403, 404, LOGIN, 200),
         format="json", body=lambda w: {"image": w.image.pk}),
    Case("labeling:project-grid-apply", "post", of_project, ANNOTATOR_BUTTON,
         body=lambda w: {"image_ids": w.image.pk, "label_class": w.coffee.pk}),
    Case("labeling:project-label-unskip", "post", of_project, (200, 200, 403, 404, LOGIN, 200),
         format="json", body=lambda w: {}),
    Case("labeling:project-grid-accept-suggestions", "post", of_project, ANNOTATOR_BUTTON,
         body=lambda w: {"scope": "page", "min_confidence": 90, "image_ids": str(w.image.pk)}),
    Case("labeling:project-grid-accept-count", "get", of_project, ANNOTATE_PAGE,
         query="scope=filter&min_confidence=90"),
    # A bulk action is its author's: everyone else is told it does not exist.
    Case("labeling:annotation-batch-undo", "post",
         lambda w: {"pk": w.project.pk, "batch_pk": w.batch.pk}, (302, 404, 403, 404, LOGIN, 404)),
    Case("labeling:project-settings", "get", of_project, (200, 403, 403, 404, LOGIN, 200)),
    Case("labeling:project-settings", "post", of_project, OWNER_BUTTON, body=lambda w: {
        "name": "Renamed", "train_percent": 60, "validation_percent": 20, "test_percent": 20,
        "annotations_per_image": 1, "classes-TOTAL_FORMS": 2, "classes-INITIAL_FORMS": 2,
        "queue_strategy": w.project.queue_strategy, "gold_percent": 10,
        "promotion_recall_margin": 0.02,
        **{f"classes-{i}-{name}": value for i, c in enumerate(w.project.classes.all())
           for name, value in (("id", c.pk), ("name", c.name), ("key", c.key),
                               ("color", "#112233"))}}),
    Case("labeling:project-delete", "post", of_project, OWNER_BUTTON,
         body=lambda w: {"confirm_name": w.project.name}),
    Case("labeling:project-member-add", "post", of_project, OWNER_BUTTON,
         body=lambda w: {"username": w.newcomer.username, "role": Role.VIEWER}),
    Case("labeling:project-member-role", "post", of_member, OWNER_BUTTON,
         body=lambda w: {"role": Role.VIEWER}),
    Case("labeling:project-member-remove", "post", of_member, OWNER_BUTTON),
    Case("labeling:image-review", "post", of_image, OWNER_BUTTON,
         body=lambda w: {"label_class": w.coffee.pk}),
    Case("labeling:image-split", "post", of_image, OWNER_BUTTON, body=lambda w: {"split": "test"}),
    Case("labeling:project-export", "get", lambda w: {"pk": w.project.pk, "format": "csv"},
         (200, 403, 403, 404, LOGIN, 200)),
    Case("classifier:project-retrain", "post", of_project, OWNER_BUTTON),
    Case("classifier:model-version-activate", "post", lambda w: {"pk": w.candidate.pk},
         OWNER_BUTTON),
    Case("classifier:model-version-pin", "post", lambda w: {"pk": w.candidate.pk}, OWNER_BUTTON),
    Case("classifier:training-run-cancel", "post", lambda w: {"pk": w.queued_run.pk}, OWNER_BUTTON),
    Case("classifier:project-health", "get", of_project, READ),
    Case("classifier:project-health-check", "post", of_project, OWNER_BUTTON),
    Case("classifier:project-split-leaks-fix", "post", of_project, OWNER_BUTTON),
    Case("classifier:project-label-errors", "get", of_project, (200, 403, 403, 404, LOGIN, 200)),
    Case("classifier:label-error-keep", "post", lambda w: {"pk": w.label_error.pk}, OWNER_BUTTON),
    Case("classifier:label-error-relabel", "post", lambda w: {"pk": w.label_error.pk},
         OWNER_BUTTON, body=lambda w: {"label_class": w.coffee.pk}),
    # Across projects: each user sees the jobs and workers of their own projects.
    Case("classifier:jobs", "get", no_args, ANY_USER),
    Case("classifier:jobs-fragment", "get", no_args, ANY_USER),
    Case("classifier:workers", "get", no_args, ANY_USER),
    # Media: members only, never a public URL (see also the API token test below).
    Case("labeling:image-file", "get", of_image, READ),
    Case("labeling:image-thumbnail", "get", of_image, READ),
    Case("classifier:model-export-file", "get",
         lambda w: {"pk": w.model_export.pk, "part": "model"}, READ),
]  # fmt: skip

# The API.                     owner annot viewer outsider anonymous staff
API_READ = (200, 200, 200, 404, 401, 200)
API_OWNER = (200, 403, 403, 404, 401, 200)
API_CASES = [
    # Anyone with a username and password gets their token; no session is needed.
    Case("api:labeling:token", "post", no_args, (200, 200, 200, 200, 200, 200), format="json",
         body=lambda w: {"username": w.owner.username, "password": PASSWORD}),
    Case("api:labeling:project-list", "get", no_args, (200, 200, 200, 200, 401, 200)),
    Case("api:labeling:project-list", "post", no_args, (201, 201, 201, 201, 401, 201),
         format="json", body=lambda w: {"name": "New", "classes": ["a", "b"]}),
    Case("api:labeling:project-detail", "get", api_project, API_READ),
    Case("api:labeling:project-detail", "patch", api_project, (200, 403, 403, 404, 401, 200),
         format="json", body=lambda w: {"suggestions": {"test": True}}),
    Case("api:labeling:project-members", "get", api_project, API_READ),
    Case("api:labeling:project-members", "post", api_project, (201, 403, 403, 404, 401, 201),
         format="json", body=lambda w: {"username": w.newcomer.username, "role": "viewer"}),
    Case("api:labeling:project-images", "get", api_project, API_READ),
    Case("api:labeling:project-images", "post", api_project, (201, 201, 403, 404, 401, 201),
         format="multipart", body=lambda w: {"files": [png_upload()], "split": "train"}),
    Case("api:labeling:project-stats", "get", api_project, API_READ),
    Case("api:labeling:project-export", "get", api_project, (200, 403, 403, 404, 401, 200),
         query="format=csv"),
    Case("api:labeling:project-export-zip", "get", api_project, (200, 403, 403, 404, 401, 200)),
    Case("api:labeling:project-export-csv", "get", api_project, (200, 403, 403, 404, 401, 200)),
    Case("api:labeling:project-export-json", "get", api_project,
         (200, 403, 403, 404, 401, 200)),
    Case("api:labeling:project-agreement", "get", api_project, API_OWNER),
    Case("api:labeling:project-invitations", "get", api_project, API_OWNER),
    Case("api:labeling:project-invitations", "post", api_project, (201, 403, 403, 404, 401, 201),
         format="json", body=lambda w: {"role": "viewer"}),
    Case("api:labeling:invitation-detail", "delete",
         lambda w: {"invitation_id": w.invitation[0].pk}, (204, 403, 403, 404, 401, 204)),
    # Everyone in the project: owners see every annotator's figures, others their own.
    Case("api:labeling:project-annotators", "get", api_project, API_READ),
    Case("api:labeling:image-detail", "get", api_image, API_READ),
    Case("api:labeling:image-detail", "patch", api_image, (200, 403, 403, 404, 401, 200),
         format="json", body=lambda w: {"split": "test"}),
    Case("api:labeling:image-annotations", "post", api_image, (201, 201, 403, 404, 401, 201),
         format="json", body=lambda w: {"label": "coffee"}),
    # Undo of one's own label, and skips: annotators and up, each their own.
    Case("api:labeling:image-annotations", "delete",
         lambda w: {"image_id": w.everyones_image.pk}, (204, 204, 403, 404, 401, 204)),
    Case("api:labeling:project-skips", "get", api_project, (200, 200, 403, 404, 401, 200)),
    Case("api:labeling:project-skips", "post", api_project, (201, 201, 403, 404, 401, 201),
         format="json", body=lambda w: {"image_id": w.image.pk}),
    Case("api:labeling:project-skips", "delete", api_project, (200, 200, 403, 404, 401, 200)),
    Case("api:labeling:project-skip-detail", "delete",
         lambda w: {"project_id": w.project.pk, "image_id": w.everyones_image.pk},
         (204, 204, 403, 404, 401, 204)),
    Case("api:classifier:image-predictions", "get", api_image, API_READ),
    Case("api:classifier:suggestions-accept", "post", api_project, (200, 200, 403, 404, 401, 200),
         format="json", body=lambda w: {"image_ids": [w.image.pk]}),
    Case("api:labeling:annotation-batch-undo", "post", lambda w: {"batch_id": w.batch.pk},
         (200, 404, 404, 404, 401, 404)),
    Case("api:classifier:training-run-create", "post", trainable_project,
         (202, 403, 403, 404, 401, 202), format="json", body=lambda w: {}),
    Case("api:classifier:training-run-detail", "get", lambda w: {"run_id": w.finished_run.pk},
         API_READ),
    Case("api:classifier:model-version-list", "get", api_project, API_READ),
    Case("api:classifier:project-classifier-settings", "get", api_project, API_READ),
    Case("api:classifier:project-classifier-settings", "patch", api_project,
         (200, 403, 403, 404, 401, 200), format="json",
         body=lambda w: {"promotion_recall_margin": 0.05}),
    Case("api:classifier:model-version-activate", "post", lambda w: {"version_id": w.candidate.pk},
         (200, 403, 403, 404, 401, 200)),
    Case("api:classifier:model-export-create", "post",
         lambda w: {"version_id": w.version.pk}, (202, 202, 403, 404, 401, 202),
         format="json", body=lambda w: {"format": "tflite"}),
    Case("api:classifier:model-export-detail", "get",
         lambda w: {"export_id": w.model_export.pk}, API_READ),
    Case("api:classifier:model-version-detail", "get", lambda w: {"version_id": w.candidate.pk},
         API_READ),
    Case("api:classifier:model-version-pin", "post", lambda w: {"version_id": w.candidate.pk},
         (200, 403, 403, 404, 401, 200), format="json", body=lambda w: {"pinned": True}),
    Case("api:classifier:prediction-job-create", "post", api_project,
         (202, 202, 403, 404, 401, 202), format="json", body=images_to_predict),
    Case("api:classifier:prediction-job-create-from-files", "post", api_project,
         (202, 202, 403, 404, 401, 202), format="multipart",
         body=files_to_predict),
    Case("api:classifier:prediction-job-detail", "get", lambda w: {"job_id": w.prediction_job.pk},
         API_READ),
    # Webhooks: owners only (a URL our servers call, its secret, what it was sent).
    Case("api:webhooks:project-webhooks", "get", api_project, API_OWNER),
    Case("api:webhooks:project-webhooks", "post", api_project, (201, 403, 403, 404, 401, 201),
         format="json",
         body=lambda w: {"url": "https://93.184.215.14/", "events": ["image.labeled"]}),
    Case("api:webhooks:webhook-detail", "delete", lambda w: {"webhook_id": w.webhook.pk},
         (204, 403, 403, 404, 401, 204)),
    Case("api:webhooks:webhook-deliveries", "get", lambda w: {"webhook_id": w.webhook.pk},
         API_OWNER),
    Case("api:webhooks:webhook-delivery-resend", "post",
         lambda w: {"delivery_id": w.webhook_delivery.pk}, (201, 403, 403, 404, 401, 201)),
    Case("api:classifier:health-check-create", "post", api_project,
         (202, 403, 403, 404, 401, 202), format="json", body=lambda w: {}),
    Case("api:classifier:health-check-detail", "get", lambda w: {"check_id": w.health_check.pk},
         API_READ),
    Case("api:classifier:data-issue-list", "get", api_project, API_READ),
    Case("api:classifier:split-leaks-fix", "post", api_project,
         (200, 403, 403, 404, 401, 200), format="json", body=lambda w: {}),
    # The queue is the caller's next images to label: annotators and up.
    Case("api:classifier:labeling-queue", "get", api_project, (200, 200, 403, 404, 401, 200)),
    # The schema and its browsable page describe the API, not anyone's data: public, as
    # the login page is, so a client can be written before it has an account.
    Case("api:schema", "get", no_args, (200, 200, 200, 200, 200, 200)),
    Case("api:docs", "get", no_args, (200, 200, 200, 200, 200, 200)),
]  # fmt: skip

# Accounts (django.contrib.auth's views).
EVERYONE = (200, 200, 200, 200, 200, 200)
ACCOUNT_CASES = [
    Case("login", "get", no_args, EVERYONE),
    Case("login", "post", no_args, (302, 302, 302, 302, 302, 302),
         body=lambda w: {"username": w.owner.username, "password": PASSWORD}),
    Case("logout", "post", no_args, (302, 302, 302, 302, LOGIN, 302)),
    Case("password_change", "get", no_args, ANY_USER),
    Case("password_change_done", "get", no_args, ANY_USER),
    Case("password_reset", "get", no_args, EVERYONE),
    Case("password_reset_done", "get", no_args, EVERYONE),
    # An invalid link: the page says so.
    Case("password_reset_confirm", "get", lambda w: {"uidb64": "MQ", "token": "bad-token"},
         EVERYONE),
    Case("password_reset_complete", "get", no_args, EVERYONE),
]  # fmt: skip

# The admin site's own pages.  owner annot viewer outsider anonymous staff
# Anyone but staff goes to the admin's login page, which tells a logged-in user they are not
# authorised. (For anonymous visitors the login-required middleware answers first, also for
# an admin URL that would forget admin_view.)
STAFF_PAGE = (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 200)
STAFF_BUTTON = (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 302)
ADMIN_SITE_CASES = [
    Case("admin:index", "get", no_args, STAFF_PAGE),
    # Users who are not staff see the form, saying they are not authorised; staff go on in.
    Case("admin:login", "get", no_args, (200, 200, 200, 200, 200, 302)),
    # Staff are logged out (to the site's login page); anyone else is sent to the index.
    Case("admin:logout", "post", no_args, (302, 302, 302, 302, ADMIN_LOGIN, 302)),
    Case("admin:password_change", "get", no_args, STAFF_PAGE),
    Case("admin:password_change_done", "get", no_args, STAFF_PAGE),
    Case("admin:autocomplete", "get", no_args, STAFF_PAGE,
         query="app_label=labeling&model_name=membership&field_name=user&term=o"),
    Case("admin:jsi18n", "get", no_args, STAFF_PAGE),
    Case("admin:view_on_site", "get", lambda w: {
        "content_type_id": ContentType.objects.get_for_model(Project).pk,
        "object_id": w.project.pk}, STAFF_BUTTON),
    Case("admin:app_list", "get", lambda w: {"app_label": "labeling"}, STAFF_PAGE),
    # Anything else under /admin/: the admin's 404, after its login.
    Case("admin/(?P<url>.*)$", "get", lambda w: {"url": "no-such-page/"},
         (*STAFF_PAGE[:5], 404)),
    Case("admin:auth_user_password_change", "get", lambda w: {"id": w.owner.pk}, STAFF_PAGE),
    # The classifier's buttons in the admin (POST).
    Case("admin:labeling_project_retrain", "post", lambda w: {"object_id": w.project.pk},
         STAFF_BUTTON),
    Case("admin:classifier_modelversion_retrain", "post", no_args, STAFF_BUTTON,
         body=lambda w: {"project": w.project.pk}),
]  # fmt: skip

# Every registered model's admin, generically: the object its change pages show ...
ADMIN_OBJECTS: dict[type, Callable[[World], object]] = {
    Group: lambda w: w.group,
    # Django's User admin: the one registered for settings.AUTH_USER_MODEL.
    **{model: (lambda w: w.users["viewer"]) for model in admin.site._registry
       if model._meta.label == settings.AUTH_USER_MODEL},
    TokenProxy: lambda w: (w.token, w.owner)[1],  # the token admin's object id is the user's
    Project: lambda w: w.project,
    LabelClass: lambda w: w.coffee,
    Membership: lambda w: w.project.memberships.get(user=w.users["viewer"]),
    Image: lambda w: w.image,
    Annotation: lambda w: w.annotation,
    Invitation: lambda w: w.invitation[0],
    ImageSkip: lambda w: w.image_skip,
    ModelVersion: lambda w: w.version,
    TrainingRun: lambda w: w.finished_run,
    PredictionJob: lambda w: w.prediction_job,
    Prediction: lambda w: w.prediction,
    Embedding: lambda w: w.embedding,
    HealthCheck: lambda w: w.health_check,
    DataIssue: lambda w: w.label_error,
    LabelCheckReview: lambda w: w.label_check_review,
    ModelExport: lambda w: w.model_export,
    Webhook: lambda w: w.webhook,
    WebhookDelivery: lambda w: w.webhook_delivery,
    AccessAttempt: lambda w: w.access_attempt,  # django-axes: the login lockout's records
    AccessLog: lambda w: w.access_log,
    AccessFailureLog: lambda w: w.access_failure_log,
}  # fmt: skip
# ... the views every ModelAdmin has (name suffix, takes the object, staff's answer) ...
ADMIN_VIEWS = [
    ("changelist", False, 200),
    ("add", False, 200),
    ("change", True, 200),
    ("history", True, 200),
    ("delete", True, 200),
    ("<path:object_id>/", True, 302),  # unnamed: an old-style URL, redirected to "change"
]
# ... and where an admin refuses even staff (records only workers write, rules that keep a
# project consistent): {(model label, view): status}.
ADMIN_REFUSES_STAFF = {
    ("labeling.image", "add"): 403,  # images come in through ingest only
    ("labeling.annotation", "add"): 403,  # labels are given on the labeling page
    ("labeling.invitation", "add"): 403,  # owners invite on the project's page
    ("labeling.imageskip", "add"): 403,  # skips come from the labeling page and the API
    ("labeling.labelclass", "delete"): 403,  # would leave images labeled with no class
    ("classifier.modelversion", "add"): 403,
    # The world's version is its project's active one: sent back to its page with a message
    # (activate another version first), never deleted.
    ("classifier.modelversion", "delete"): 302,
    ("classifier.trainingrun", "add"): 403,
    ("classifier.predictionjob", "add"): 403,
    ("classifier.prediction", "add"): 403,
    ("classifier.embedding", "add"): 403,
    ("classifier.healthcheck", "add"): 403,  # checks come from training runs and the page
    ("classifier.dataissue", "add"): 403,
    ("classifier.labelcheckreview", "add"): 403,  # answered on the health page
    ("classifier.modelexport", "add"): 403,
    ("webhooks.webhookdelivery", "add"): 403,  # deliveries come from events only
    # django-axes writes its records from failed and successful logins only.
    ("axes.accessattempt", "add"): 403,
    ("axes.accesslog", "add"): 403,
    ("axes.accessfailurelog", "add"): 403,
}


def admin_object_kwargs(model) -> Callable[[World], dict]:
    def kwargs(world: World) -> dict:
        if model not in ADMIN_OBJECTS:
            raise AssertionError(f"No object for {model._meta.label}: add one to ADMIN_OBJECTS")
        return {"object_id": ADMIN_OBJECTS[model](world).pk}

    return kwargs


def admin_model_cases() -> list[Case]:
    cases = []
    for model in admin.site._registry:
        opts = model._meta
        for view, takes_object, staff_status in ADMIN_VIEWS:
            if view.startswith("<"):
                url = f"admin/{opts.app_label}/{opts.model_name}/{view}"
            else:
                url = f"admin:{opts.app_label}_{opts.model_name}_{view}"
            staff_status = ADMIN_REFUSES_STAFF.get((opts.label_lower, view), staff_status)
            kwargs = admin_object_kwargs(model) if takes_object else no_args
            expected = (*STAFF_PAGE[:5], staff_status)
            cases.append(Case(url, "get", kwargs, expected))
    return cases


CASES = PAGE_CASES + API_CASES + ACCOUNT_CASES + ADMIN_SITE_CASES + admin_model_cases()


# ------------------------------------------------------------------------------------------
# The URLs the resolver knows
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    key: str  # the URL name (with its namespace), or the route of an unnamed pattern
    route: str
    callback: Callable


def url_routes(patterns=None, prefix: str = "", namespace: str = "") -> Iterator[Route]:
    """Every pattern of the URLconf, included ones (the admin's, the API's) too."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            inner = namespace
            if pattern.namespace:
                inner = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            yield from url_routes(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            route = prefix + str(pattern.pattern)
            if pattern.name:
                key = f"{namespace}:{pattern.name}" if namespace else pattern.name
            else:
                key = route
            yield Route(key, route, pattern.callback)


def test_every_url_has_a_rule():
    routes = {route.key for route in url_routes()}
    ruled = {case.url for case in CASES}
    assert not routes - ruled, f"URLs without a rule in this table: {sorted(routes - ruled)}"
    assert not ruled - routes, f"Rules for URLs that do not exist: {sorted(ruled - routes)}"


def test_every_admin_model_has_an_object_for_its_change_pages():
    assert set(admin.site._registry) == set(ADMIN_OBJECTS)


# ------------------------------------------------------------------------------------------
# Running a case
# ------------------------------------------------------------------------------------------


def url_of(case: Case, world: World) -> str:
    kwargs = case.kwargs(world)
    if case.url.startswith("admin/"):  # an unnamed pattern: its route, filled in
        route = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: str(kwargs[m[1]]), case.url)
        route = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(kwargs[m[1]]), route)
        url = "/" + route.removesuffix("$")
    else:
        url = reverse(case.url, kwargs=kwargs)
    return f"{url}?{case.query}" if case.query else url


def client_for(world: World, caller: str, *, token: bool = True) -> APIClient:
    """A logged-in browser session (and, for the API, the caller's token)."""
    client = APIClient()
    user = world.user(caller)
    if user is not None:
        client.force_login(user)
        if token:
            key = Token.objects.get_or_create(user=user)[0].key
            client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def send(client, case: Case, world: World, url: str):
    body = case.body(world) if case.body else {}
    method = getattr(client, case.method)
    if case.format == "json" and not url.startswith("/api/"):
        return method(url, json.dumps(body), content_type="application/json", headers=case.headers)
    if case.format:
        return method(url, body, format=case.format, headers=case.headers)
    if case.method == "patch":
        return method(url, body, format="json", headers=case.headers)
    return method(url, body, headers=case.headers)


def assert_answer(response, expected, url: str) -> None:
    # Whatever the answer, browsers must take its Content-Type as it is (no sniffing a
    # stored file or an error page into HTML).
    assert response.get("X-Content-Type-Options") == "nosniff", response.headers
    if expected in (LOGIN, ADMIN_LOGIN):
        login = reverse("login" if expected == LOGIN else "admin:login")
        assert response.status_code == 302, (response.status_code, response.content[:300])
        assert response["Location"].startswith(f"{login}?next="), response["Location"]
        return
    assert response.status_code == expected, (response.status_code, response.content[:300])
    if 300 <= expected < 400:
        # A redirect that is not a refusal in disguise.
        for login in (reverse("login"), reverse("admin:login")):
            assert not response["Location"].startswith(f"{login}?next="), response["Location"]
    if expected >= 400 and url.startswith("/api/"):
        assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
        assert "detail" in response.json(), response.json()


@pytest.fixture
def world(project, owner, annotator, viewer, outsider) -> World:
    return World(project=project, owner=owner, annotator=annotator, viewer=viewer,
                 outsider=outsider)  # fmt: skip


@pytest.fixture
def broker_down():
    """The web side's broker is a port nothing listens on: buttons that enqueue (retrain,
    the workers panel's ping) fail fast, as with Redis down, instead of reaching a broker."""
    from labelplatform.celery import app

    previous = app.conf.broker_url
    broker_use(f"redis://127.0.0.1:{free_port()}/0")
    yield
    broker_use(previous)


MATRIX = [
    pytest.param(case, caller, expected, id=f"{case}-{caller}")
    for case in CASES
    for caller, expected in zip(CALLERS, case.expected, strict=True)
]


@pytest.mark.parametrize(("case", "caller", "expected"), MATRIX)
def test_permission_matrix(world, broker_down, case, caller, expected):
    url = url_of(case, world)
    response = send(client_for(world, caller), case, world, url)
    assert_answer(response, expected, url)


# ------------------------------------------------------------------------------------------
# Every method our views answer has a rule
# ------------------------------------------------------------------------------------------

OUR_MODULES = ("labeling.", "classifier.", "labelplatform.", "webhooks.")
# HEAD and OPTIONS are left out: the API answers them as GET (HasProjectRole), the pages
# refuse them. The admin's views (some overridden in our admin modules) take the methods
# Django gives them.
PROBED_METHODS = ("get", "post", "put", "patch", "delete")
OUR_CASES = [
    case
    for case in CASES
    if not case.url.startswith("admin")
    and any(
        route.key == case.url and route.callback.__module__.startswith(OUR_MODULES)
        for route in url_routes()
    )
]


@pytest.mark.parametrize(
    "case", list({case.url: case for case in OUR_CASES}.values()), ids=lambda case: case.url
)
def test_every_method_our_views_answer_has_a_rule(world, broker_down, case):
    """A method a view accepts but the table does not list (a new PATCH on an API view, a
    page that starts taking POST) would escape the matrix: staff try them all."""
    url = url_of(case, world)
    client = client_for(world, "staff")
    answered = {
        method for method in PROBED_METHODS if getattr(client, method)(url).status_code != 405
    }
    ruled = {other.method for other in CASES if other.url == case.url}
    assert answered == ruled, f"{case.url} answers {sorted(answered)}, rules: {sorted(ruled)}"


# ------------------------------------------------------------------------------------------
# Beyond the table
# ------------------------------------------------------------------------------------------

MEDIA_CASES = [
    case for case in PAGE_CASES if case.url in ("labeling:image-file", "labeling:image-thumbnail")
]


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("case", MEDIA_CASES, ids=str)
def test_media_urls_accept_the_api_token_instead_of_a_session(world, case, caller):
    """The API links to the files as "url" and "thumbnail_url"; a tool fetches them with the
    token it uses for the API, and the same membership rules apply."""
    client = APIClient()
    user = world.user(caller)
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    url = url_of(case, world)
    assert_answer(client.get(url), case.expected[CALLERS.index(caller)], url)


def test_a_wrong_token_on_a_media_url_is_no_login(world):
    client = APIClient(HTTP_AUTHORIZATION="Token not-a-token")
    url = reverse("labeling:image-file", args=[world.image.pk])
    assert_answer(client.get(url), LOGIN, url)


POST_ONLY = sorted(
    {case.url for case in CASES if case.method == "post" and not case.url.startswith("api")}
    - {case.url for case in CASES if case.method == "get"}
)


@pytest.mark.parametrize("url_name", POST_ONLY)
def test_buttons_refuse_get(world, url_name, broker_down):
    """A button's action never happens on a GET (a link, a prefetch, an <img src>)."""
    case = next(case for case in CASES if case.url == url_name)
    client = client_for(world, "staff")
    assert client.get(url_of(case, world)).status_code == 405


# The token exchange takes credentials only (no session), so there is no session to forge.
CSRF_EXEMPT = {"api:labeling:token"}
UNSAFE_CASES = [
    case for case in CASES if case.method in ("post", "patch") and case.url not in CSRF_EXEMPT
]


@pytest.mark.parametrize("case", UNSAFE_CASES, ids=str)
def test_every_write_with_a_browser_session_needs_the_csrf_token(world, broker_down, case):
    """Forms, the labeling page's JSON endpoints, the admin's buttons and the API used with
    a session cookie (not a token): another site cannot make a logged-in browser write."""
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(world.staff)
    response = send(client, case, world, url_of(case, world))
    assert response.status_code == 403, response.content[:300]
    assert b"CSRF" in response.content


# Paths outside the URLconf: answered by middleware (whitenoise, the health check) or by
# nothing.                            owner annot viewer outsider anonymous staff
OTHER_PATHS = {
    # The production health check answers probes before any other middleware.
    "/healthz": (200, 200, 200, 200, 200, 200),
    # Static files are public (whitenoise), stored files never are: no URL serves them by
    # their storage name, not even to members.
    "/static/css/app.css": (200, 200, 200, 200, 200, 200),
    "/media/{stored_name}": (404, 404, 404, 404, 404, 404),
}


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("path", OTHER_PATHS)
def test_paths_outside_the_urlconf(world, settings, path, caller):
    settings.MIDDLEWARE = ["labelplatform.health.HealthzMiddleware", *settings.MIDDLEWARE]
    url = path.format(stored_name=world.image.file.name)
    response = client_for(world, caller).get(url)
    assert_answer(response, OTHER_PATHS[path][CALLERS.index(caller)], url)


# From the API's own rules: a project you cannot see is one that does not exist.


@pytest.mark.parametrize("caller", ["owner", "staff"])
def test_a_project_that_does_not_exist_is_a_404_like_someone_elses(world, caller):
    client = client_for(world, caller)
    for url in ("/api/projects/999999/", "/api/images/999999/"):
        assert_answer(client.get(url), 404, url)


def test_an_outsider_cannot_tell_a_hidden_project_from_a_missing_one(world):
    client = client_for(world, "outsider")
    hidden = client.get(f"/api/projects/{world.project.pk}/")
    missing = client.get("/api/projects/999999/")
    assert (hidden.status_code, hidden.json()) == (missing.status_code, missing.json())


def test_outsiders_do_not_see_the_project_in_their_list(world):
    assert client_for(world, "outsider").get("/api/projects/").json()["results"] == []


@pytest.mark.parametrize("caller", ["viewer", "annotator"])
def test_a_member_below_owner_cannot_add_members_nor_promote_themselves(world, caller):
    user = world.user(caller)
    response = client_for(world, caller).post(
        f"/api/projects/{world.project.pk}/members/",
        {"username": user.username, "role": "owner"},
        format="json",
    )
    assert_answer(response, 403, "/api/")
    assert world.project.memberships.get(user=user).role == caller


@pytest.mark.parametrize("caller", ["annotator", "outsider"])
def test_a_refused_activation_changes_nothing(world, caller):
    candidate = world.candidate
    client_for(world, caller).post(
        reverse("classifier:model-version-activate", args=[candidate.pk])
    )
    candidate.refresh_from_db()
    world.version.refresh_from_db()
    assert (candidate.status, world.version.status) == ("candidate", "active")
