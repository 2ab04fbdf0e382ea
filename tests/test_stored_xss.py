"""Stored XSS: names users choose are shown as text everywhere, never run as markup.

A project, its label classes, an image's file name, usernames, a description, job errors and
a model version's reason all hold markup here. Every page that shows them (the site's pages,
their htmx fragments, the messages after a button, the admin's lists and forms and its custom
views) must leave the raw markup out and show its escaped form; JSON embedded in a page goes
through json_script (the names come back intact, the markup inert). The real browser's
side, no dialog ever opening, is tests/browser/test_hostile_names.py.
"""

import json
import re
from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from rest_framework.authtoken.models import TokenProxy

from classifier.models import (
    DataIssue,
    DataIssueKind,
    Embedding,
    ExportFormat,
    HealthCheck,
    JobStatus,
    LabelCheckDecision,
    LabelCheckReview,
    ModelExport,
    ModelVersion,
    Prediction,
    PredictionJob,
    TrainingRun,
)
from labeling import services
from labeling.models import (
    Annotation,
    Image,
    ImageSkip,
    Invitation,
    LabelClass,
    Membership,
    Project,
    Role,
)
from tests.factories import ImageFactory
from tests.hostile import (
    ANNOTATOR_NAME,
    CLASS_A,
    CLASS_B,
    DESCRIPTION,
    ERROR,
    IMAGE_NAME,
    IMG,
    NEWCOMER_NAME,
    OWNER_NAME,
    PROJECT_NAME,
    RAW,
    REASON,
    SCRIPT,
    WORKER,
    Hostile,
)
from tests.support.upload_corpus import png, text_named_jpg
from webhooks.models import Webhook, WebhookDelivery


@pytest.fixture
def hostile(db) -> Hostile:
    return Hostile()


@pytest.fixture
def owner_client(hostile) -> Client:
    client = Client()
    client.force_login(hostile.owner)
    return client


def assert_inert(html: str, *shown: str) -> None:
    """No raw markup from the data; each of `shown` present in its escaped form."""
    for raw in RAW:
        assert raw not in html, f"raw {raw!r} in the page"
    for text in shown:
        assert escape(text) in html, f"{escape(text)!r} not in the page"


# --- The site's pages ---------------------------------------------------------------------

#       URL name, arguments from the world, the hostile names it shows
PAGES = [
    ("labeling:home", lambda h: [], [PROJECT_NAME]),
    ("labeling:project-dashboard", lambda h: [h.project.pk],
     [PROJECT_NAME, DESCRIPTION, CLASS_A, CLASS_B, IMAGE_NAME, OWNER_NAME, ANNOTATOR_NAME]),
    ("labeling:project-gallery", lambda h: [h.project.pk], [PROJECT_NAME, CLASS_A, IMAGE_NAME]),
    ("labeling:project-grid", lambda h: [h.project.pk],
     [PROJECT_NAME, CLASS_A, CLASS_B, IMAGE_NAME]),
    ("labeling:project-label", lambda h: [h.project.pk], [PROJECT_NAME, CLASS_A, CLASS_B]),
    ("labeling:project-upload", lambda h: [h.project.pk], [PROJECT_NAME, CLASS_A]),
    ("labeling:image-detail", lambda h: [h.image.pk],
     [PROJECT_NAME, IMAGE_NAME, CLASS_A, CLASS_B, OWNER_NAME, ANNOTATOR_NAME]),
    ("classifier:project-models", lambda h: [h.project.pk],
     [PROJECT_NAME, CLASS_A, CLASS_B, REASON]),
    ("classifier:project-jobs", lambda h: [h.project.pk],
     [PROJECT_NAME, ERROR, OWNER_NAME, WORKER]),
    ("classifier:project-jobs-fragment", lambda h: [h.project.pk], [ERROR, ANNOTATOR_NAME, WORKER]),
    ("classifier:jobs", lambda h: [], [PROJECT_NAME, ERROR]),
    ("classifier:jobs-fragment", lambda h: [], [PROJECT_NAME, ERROR]),
    ("classifier:project-workers", lambda h: [h.project.pk], []),
    ("classifier:workers", lambda h: [], []),
    ("labeling:project-create", lambda h: [], [OWNER_NAME]),  # the navigation bar's username
]  # fmt: skip


@pytest.mark.parametrize(("url_name", "args", "shown"), PAGES, ids=[p[0] for p in PAGES])
def test_pages_show_hostile_names_as_text(hostile, owner_client, url_name, args, shown):
    response = owner_client.get(reverse(url_name, args=args(hostile)))
    assert response.status_code == 200
    assert_inert(response.content.decode(), *shown)


def json_script(html: str, element_id: str):
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html)
    return json.loads(match[1])


def test_the_labeling_pages_state_is_json_script_with_the_names_intact(hostile, owner_client):
    html = owner_client.get(
        reverse("labeling:project-label", args=[hostile.project.pk])
    ).content.decode()
    state = json_script(html, "labeling-state")
    assert [c["name"] for c in state["classes"]] == [CLASS_A, CLASS_B]
    assert [image["original_name"] for image in state["queue"]] == [f"new {IMG}.png"]


def test_the_charts_data_is_json_script_with_the_names_intact(hostile, owner_client):
    html = owner_client.get(
        reverse("classifier:project-models", args=[hostile.project.pk])
    ).content.decode()
    assert json_script(html, "model-charts")["classes"] == [CLASS_A, CLASS_B]


def test_the_upload_pages_verdicts_show_file_names_as_text(hostile, owner_client):
    """Without JavaScript the form answers with the page and a verdict table."""
    response = owner_client.post(
        reverse("labeling:project-upload", args=[hostile.project.pk]),
        {
            "split": "auto",
            "label": "",
            "files": [
                SimpleUploadedFile(f"kept {IMG}.png", png(seed=31)),
                SimpleUploadedFile(f"notes {IMG}.jpg", text_named_jpg()),
            ],
        },
        headers={"Accept": "text/html"},
    )
    # ("/" ends a name in an upload: Django keeps what follows the last one.)
    assert_inert(response.content.decode(), f"kept {IMG}.png", f"notes {IMG}.jpg")


def test_messages_after_buttons_show_names_as_text(hostile, owner_client):
    """The success messages name classes, images and users."""
    project = hostile.project
    grid = owner_client.post(
        reverse("labeling:project-grid-apply", args=[project.pk]),
        {"image_ids": hostile.unlabeled.pk, "label_class": hostile.class_b.pk},
        follow=True,
    )
    assert_inert(grid.content.decode(), f"as {CLASS_B}")
    review = owner_client.post(
        reverse("labeling:image-review", args=[hostile.image.pk]),
        {"label_class": hostile.class_a.pk},
        follow=True,
    )
    assert_inert(review.content.decode(), f"{IMAGE_NAME} is now {CLASS_A}")
    member = owner_client.post(
        reverse("labeling:project-member-add", args=[project.pk]),
        {"username": NEWCOMER_NAME, "role": Role.VIEWER},
        follow=True,
    )
    assert_inert(member.content.decode(), f"{NEWCOMER_NAME} is now viewer")


def test_a_member_removal_confirmation_quotes_names_as_text(hostile, owner_client):
    """data-confirm="Remove <user> from <project>?" is read by forms.js into confirm()."""
    html = owner_client.get(
        reverse("labeling:project-dashboard", args=[hostile.project.pk])
    ).content
    confirm = f"Remove {ANNOTATOR_NAME} from {PROJECT_NAME}?"
    assert f'data-confirm="{escape(confirm)}"' in html.decode()


def test_the_api_answers_names_as_json_data(hostile):
    client = Client(headers={"Authorization": f"Token {hostile.token.key}"})
    response = client.get(f"/api/projects/{hostile.project.pk}/")
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert (body["name"], [c["name"] for c in body["classes"]]) == (
        PROJECT_NAME,
        [CLASS_A, CLASS_B],
    )


# --- The admin ------------------------------------------------------------------------------

ADMIN_OBJECTS = {
    Group: lambda h: h.group,
    TokenProxy: lambda h: h.owner,  # the token admin's object id is the user's
    Project: lambda h: h.project,
    LabelClass: lambda h: h.class_a,
    Membership: lambda h: h.project.memberships.get(user=h.annotator),
    Image: lambda h: h.image,
    Annotation: lambda h: h.image.annotations.get(user=h.annotator),
    Invitation: lambda h: Invitation.objects.create(
        project=h.project,
        email="x@example.com",
        token_sha256="0" * 64,
        invited_by=h.owner,
        expires_at=timezone.now() + timedelta(days=1),
    ),
    ImageSkip: lambda h: ImageSkip.objects.create(image=h.image, user=h.annotator),
    ModelVersion: lambda h: h.version,
    TrainingRun: lambda h: h.run,
    PredictionJob: lambda h: h.prediction_job,
    Prediction: lambda h: Prediction.objects.get(image=h.image),
    Embedding: lambda h: h.embedding,
    # The data-health rows show the check's error and a finding's detail (class names).
    HealthCheck: lambda h: hostile_health_check(h),
    DataIssue: lambda h: hostile_health_check(h).issues.get(),
    LabelCheckReview: lambda h: LabelCheckReview.objects.create(
        image=h.image, label=h.class_a, decision=LabelCheckDecision.KEPT, reviewed_by=h.owner
    ),
    ModelExport: lambda h: ModelExport.objects.create(
        model_version=h.version, format=ExportFormat.KERAS, status=JobStatus.FAILED, error=ERROR
    ),
    # A receiver's error text is whatever the remote answered.
    Webhook: lambda h: Webhook.objects.create(
        project=h.project, url="https://example.com/hook", secret="s", events=["image.labeled"]
    ),
    WebhookDelivery: lambda h: WebhookDelivery.objects.create(
        webhook=Webhook.objects.create(project=h.project, url="https://example.com/hook"),
        event="image.labeled",
        payload={"project": {"name": PROJECT_NAME}},
        error=ERROR,
    ),
    # The login lockout's records (django-axes): a login form's username and user agent are
    # free text anybody can send.
    AccessAttempt: lambda h: AccessAttempt.objects.create(
        username=ANNOTATOR_NAME,
        ip_address="203.0.113.9",
        user_agent=f"agent {SCRIPT}",
        get_data=f"next={IMG}",
        post_data=f"username={ANNOTATOR_NAME}",
        failures_since_start=5,
    ),
    AccessLog: lambda h: AccessLog.objects.create(
        username=ANNOTATOR_NAME, ip_address="203.0.113.9", user_agent=f"agent {SCRIPT}"
    ),
    AccessFailureLog: lambda h: AccessFailureLog.objects.create(
        username=ANNOTATOR_NAME, ip_address="203.0.113.9", user_agent=f"agent {SCRIPT}"
    ),
}


def hostile_health_check(hostile: Hostile) -> HealthCheck:
    check = HealthCheck.objects.create(
        project=hostile.project, status=JobStatus.FAILED, error=ERROR, counts={"label_error": 1}
    )
    DataIssue.objects.create(
        project=hostile.project, health_check=check, kind=DataIssueKind.LABEL_ERROR, score=0.9,
        image=hostile.image, image_ids=[hostile.image.pk],
        detail={"given_label": CLASS_A, "suggested_label": CLASS_B},
    )  # fmt: skip
    return check


def admin_object(hostile: Hostile, model):
    if model._meta.label_lower == "auth.user":
        return hostile.annotator
    return ADMIN_OBJECTS[model](hostile)


HOSTILE_TEXTS = [
    *(PROJECT_NAME, CLASS_A, CLASS_B, IMAGE_NAME, OWNER_NAME, ANNOTATOR_NAME, ERROR, REASON),
    *(f"group {IMG}", f"bb{SCRIPT}"[:64], f"Redis down {SCRIPT}"),
]
REGISTERED = sorted(admin.site._registry, key=lambda model: model._meta.label)


@pytest.mark.parametrize("model", REGISTERED, ids=lambda model: model._meta.label)
@pytest.mark.parametrize("view", ["changelist", "change"])
def test_admin_pages_show_hostile_names_as_text(hostile, owner_client, model, view):
    opts = model._meta
    if view == "changelist":
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    else:
        url = reverse(
            f"admin:{opts.app_label}_{opts.model_name}_change",
            args=[admin_object(hostile, model).pk],
        )
    response = owner_client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert_inert(html)
    # Each of these pages shows some of the world's names: escaped, not dropped.
    assert any(escape(text) in html for text in HOSTILE_TEXTS), url


def test_admin_index_and_search_show_names_as_text(hostile, owner_client):
    assert_inert(owner_client.get(reverse("admin:index")).content.decode())
    search = owner_client.get(reverse("admin:labeling_image_changelist"), {"q": IMG})
    assert_inert(search.content.decode(), IMG, IMAGE_NAME)


def test_the_admins_set_label_page_shows_names_as_text(hostile, owner_client):
    response = owner_client.post(
        reverse("admin:labeling_image_changelist"),
        {"action": "set_label", "_selected_action": [hostile.image.pk, hostile.unlabeled.pk]},
    )
    assert_inert(response.content.decode(), PROJECT_NAME, CLASS_A, CLASS_B)


def test_the_admins_messages_name_projects_as_text(hostile, owner_client):
    other = services.project_create(
        name=f"Other {SCRIPT}", created_by=hostile.owner, classes=["a", "b"]
    )
    other_image = ImageFactory(project=other, original_name="x.png")
    mixed = owner_client.post(
        reverse("admin:labeling_image_changelist"),
        {"action": "set_label", "_selected_action": [hostile.image.pk, other_image.pk]},
        follow=True,
    )
    assert_inert(mixed.content.decode(), PROJECT_NAME, f"Other {SCRIPT}")
    retrain = owner_client.post(
        reverse("admin:labeling_project_retrain", args=[hostile.project.pk]), follow=True
    )
    assert_inert(retrain.content.decode(), PROJECT_NAME)
