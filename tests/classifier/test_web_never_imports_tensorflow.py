"""The web process never imports TensorFlow, Keras or the classifier's worker package.

A fresh Python (so no other test's imports count) sets Django up (admin autodiscovery
included), imports every module of the project outside classifier/ml and classifier/worker
(every URL module among them), loads the WSGI application gunicorn serves, sets up a small
database with a project, images, a model version, predictions, jobs, annotations and
embeddings, requests every URL (ids filled in with 1, the first row of everything: admin
changelists and change pages, the pages, the API) as a staff user, exercises the classifier
API's writes and the classifier pages' and admin's buttons, actions and filters, sends a few
requests through the WSGI application itself, and then reports which modules of TensorFlow,
Keras or classifier.worker were loaded: there must be none. No URL may answer with a server
error either. (Celery beat and the worker: test_worker_package_boundary.py.)
"""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    r"""
    import importlib, io, json, pkgutil, re, socket, sys

    import django
    django.setup()

    from django.core.files.base import ContentFile
    from django.core.management import call_command
    from django.test import Client
    from django.urls import URLPattern, URLResolver, get_resolver

    call_command("migrate", verbosity=0)

    # Not parts of the web process: the TensorFlow corner, the worker package, migrations, and
    # the settings modules other than the one in use (production's refuses to load without
    # its secrets). Skipped before import: pkgutil.walk_packages would import every package
    # it walks into, the worker package among them.
    skipped = ("classifier.ml", "classifier.worker", "labelplatform.settings")
    imported = []

    def walk(package):
        for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
            if info.name.startswith(skipped) or info.name.endswith(".migrations"):
                continue
            module = importlib.import_module(info.name)
            imported.append(info.name)
            if info.ispkg:
                walk(module)

    for package in ("labelplatform", "labeling", "classifier"):
        walk(importlib.import_module(package))

    from labelplatform.wsgi import application  # what gunicorn serves

    from django.contrib.auth import get_user_model
    from classifier.models import (
        Embedding, ModelVersion, Prediction, PredictionJob, TrainingRun,
    )
    from labeling.models import Image, LabelStatus
    from labeling.services import annotation_create
    from tests.factories import ImageFactory, ProjectFactory, png_bytes

    admin = get_user_model().objects.create_superuser("admin", "admin@example.com", "pw")
    project = ProjectFactory(created_by=admin)
    coffee, other = project.classes.all()
    images = [
        ImageFactory(project=project, split=split, label=label, label_status=LabelStatus.LABELED)
        for split in ("train", "validation", "test")
        for label in (coffee, other)
    ]
    version = ModelVersion.objects.create(
        project=project, version=1, backbone="tiny", class_ids=[coffee.pk, other.pk],
        artifact=ContentFile(b"head", name="head.bin"), status="active",
        metrics={"accuracy": 1.0, "validation_accuracy": 1.0, "class_names": ["coffee", "other"]},
        validation_accuracy=1.0, test_accuracy=1.0,
    )
    TrainingRun.objects.create(project=project, status="succeeded")
    Prediction.objects.create(
        image=images[0], model_version=version, label=coffee, confidence=0.9,
        probabilities={"coffee": 0.9, "other": 0.1},
    )
    PredictionJob.objects.create(
        project=project, model_version=version, kind="selected", image_ids=[images[0].pk]
    )
    candidate = ModelVersion.objects.create(
        project=project, version=2, backbone="tiny", class_ids=[coffee.pk, other.pk],
        artifact=ContentFile(b"head", name="head.bin"), status="candidate",
        validation_accuracy=0.9, test_accuracy=0.9,
    )
    annotation_create(image=images[0].pk, user=admin, label_class=coffee)
    Embedding.objects.create(sha256=images[0].sha256, backbone="tiny", dim=1, vector=b"\0" * 4)

    client = Client(raise_request_exception=False)
    client.force_login(admin)
    statuses = {}

    def walk(patterns, prefix=""):
        for entry in patterns:
            route = getattr(entry.pattern, "_route", None)
            if route is None:  # a regular expression: nothing to fill in generically
                continue
            route = re.sub(r"<[^>]+>", "1", route)
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + route)
            else:
                url = "/" + prefix + route
                statuses[url] = client.get(url).status_code

    walk(get_resolver().url_patterns)

    # The classifier API's writes, as an owner would make them (the broker is unreachable
    # here: the jobs stay queued, which is all the web side does).
    base = f"/api/projects/{project.pk}"
    writes = {
        "train": client.post(f"{base}/training-runs/", {}, content_type="application/json"),
        "activate": client.post(f"/api/model-versions/{version.pk}/activate/"),
        "predict": client.post(
            f"{base}/predictions/", {"image_ids": [images[0].pk]}, content_type="application/json"
        ),
        "ad hoc": client.post(
            f"{base}/predictions/", {"files": [ContentFile(png_bytes(), name="x.png")]}
        ),
        "wait": client.get("/api/prediction-jobs/1/?wait=0.1"),
    }
    # The classifier's pages and admin: buttons, actions and filters, each a real request.
    changelist = "/admin/{}/{}/"
    selected = "_selected_action"
    writes.update({
        "page retrain": client.post(f"/projects/{project.pk}/retrain/"),
        "page cancel": client.post(f"/training-runs/{TrainingRun.objects.first().pk}/cancel/"),
        "page activate": client.post(f"/model-versions/{candidate.pk}/activate/"),
        "admin retrain button": client.post(f"/admin/labeling/project/{project.pk}/retrain/"),
        "admin retrain list button": client.post(
            "/admin/classifier/modelversion/retrain/", {"project": project.pk}
        ),
        "admin retrain action": client.post(
            changelist.format("labeling", "project"),
            {"action": "retrain_selected", selected: [project.pk]},
        ),
        "admin activate action": client.post(
            changelist.format("classifier", "modelversion"),
            {"action": "activate_selected", selected: [version.pk]},
        ),
        "admin predict action": client.post(
            changelist.format("labeling", "image"),
            {"action": "predict_selected", selected: [image.pk for image in images]},
        ),
        "gallery prediction filters": client.get(
            f"/projects/{project.pk}/gallery/?predicted={coffee.pk}&confidence_min=50"
            "&confidence_max=95&disagreement=disagree"
        ),
        "jobs fragment": client.get(f"/projects/{project.pk}/jobs/fragment/"),
        "workers panel": client.get(f"/projects/{project.pk}/workers/"),
    })
    for name, response in writes.items():
        statuses[name] = response.status_code

    # A few requests the way gunicorn makes them: through the WSGI application.
    from wsgiref.util import setup_testing_defaults

    def through_wsgi(path):
        environ = {"PATH_INFO": path, "HTTP_HOST": "testserver"}
        setup_testing_defaults(environ)
        answer = []
        body = application(environ, lambda status, headers: answer.append(status))
        b"".join(body)
        return int(answer[0].split()[0])

    for path in ("/", "/accounts/login/", "/admin/login/", "/api/projects/", "/static/x.css"):
        statuses["wsgi " + path] = through_wsgi(path)

    loaded = sorted(
        name for name in sys.modules
        if name.split(".")[0] in ("tensorflow", "keras", "tf_keras", "tensorboard")
        or name == "classifier.worker" or name.startswith("classifier.worker.")
    )
    print(json.dumps({"imported": imported, "statuses": statuses, "loaded": loaded}))
    """
)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def web_process_report(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("web")
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "labelplatform.settings.test",
        "DATABASE_URL": f"sqlite:///{folder / 'web.sqlite3'}",
        "MEDIA_ROOT": str(folder / "media"),
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{free_port()}/0",
        "STATIC_ROOT": str(folder / "static"),
    }
    finished = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=REPOSITORY,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert finished.returncode == 0, finished.stderr[-5000:]
    return json.loads(finished.stdout.strip().splitlines()[-1])


def test_the_web_process_never_imports_tensorflow_keras_or_the_worker(web_process_report):
    assert web_process_report["loaded"] == []


def test_the_check_covered_the_project_and_the_classifier_api(web_process_report):
    imported, statuses = web_process_report["imported"], web_process_report["statuses"]
    for module in (
        "classifier.api",
        "classifier.services",
        "classifier.services.jobs",
        "classifier.services.training",
        "classifier.services.versions",
        "classifier.services.predictions",
        "classifier.urls",
        "labeling.urls",
        "labelplatform.urls",
        "labelplatform.wsgi",
    ):
        assert module in imported, module
    assert statuses["/api/training-runs/1/"] == 200
    assert statuses["/api/projects/1/model-versions/"] == 200
    assert statuses["/api/images/1/predictions/"] == 200
    assert (statuses["train"], statuses["predict"], statuses["ad hoc"]) == (202, 202, 202)
    assert statuses["activate"] == 200
    # The classifier's pages and admin were among them, with real rows behind them.
    for url in (
        "/projects/1/models/",
        "/projects/1/jobs/",
        "/jobs/",
        "/images/1/",
        "/projects/1/gallery/",
        "/admin/classifier/modelversion/",
        "/admin/classifier/modelversion/1/change/",
        "/admin/classifier/trainingrun/1/change/",
        "/admin/classifier/predictionjob/1/change/",
        "/admin/classifier/prediction/1/change/",
        "/admin/classifier/embedding/1/change/",
        "/admin/labeling/project/1/change/",
        "/admin/labeling/image/1/change/",
    ):
        assert statuses[url] == 200, url
    for write in ("page retrain", "page cancel", "page activate", "admin retrain button",
                  "admin retrain list button", "admin retrain action", "admin activate action",
                  "admin predict action"):  # fmt: skip
        assert statuses[write] == 302, write
    for read in ("gallery prediction filters", "jobs fragment", "workers panel"):
        assert statuses[read] == 200, read
    assert statuses["wsgi /"] == 302  # anonymous: to the login page
    assert statuses["wsgi /accounts/login/"] == 200
    assert statuses["wsgi /admin/login/"] == 200


def test_no_url_fails_with_a_server_error(web_process_report):
    errors = {url: s for url, s in web_process_report["statuses"].items() if s >= 500}
    assert errors == {}
