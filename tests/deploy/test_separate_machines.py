"""Same code, several machines: the web and the workers share nothing but the database, Redis
and the object store. Images and model artifacts go through Django's storage API, never by
local path.

Each "machine" is a process of its own, started as the deployment starts it (gunicorn with
labelplatform.gunicorn_conf, the compose file's worker commands, production settings), with
its own empty MEDIA_ROOT and weights folder. With the object store they share one bucket, each
through its own access key that reaches only that bucket (the key deploy/storage-init.sh
makes for MinIO). If anything passed a file by local path, the other machine would not find
it: the negative control shows the run then fails, saying why.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError
from rest_framework.authtoken.models import Token

from classifier.models import JobStatus, ModelVersion, Prediction, PredictionJob
from labeling.models import Image, Split
from tests.classifier import tiny_backbone
from tests.factories import png_bytes
from tests.support.fake_s3 import moto_enforce_credentials, moto_server
from tests.support.labeled_images import CLASS_COLORS, FAST_TRAINING
from tests.support.processes import free_port, wait_until
from tests.support.production import (
    compose_service_command,
    production_environment,
    production_process_start,
)
from tests.support.redis_server import PrivateRedis
from tests.support.workers import database_url

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

REGION = "us-east-1"
PUBLIC_HOST = "labels.example.com"
# What the deploy/storage-init.sh policy grants the application's key, on one bucket.
BUCKET_ACTIONS = ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"]
OBJECT_ACTIONS = [
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
]
STORE_VARIABLES = [
    "AWS_STORAGE_BUCKET_NAME",
    "AWS_S3_ENDPOINT_URL",
    "AWS_S3_REGION_NAME",
    "AWS_S3_ADDRESSING_STYLE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
]
ROLES = ("web", "worker-training", "worker-prediction", "test")
# Per split and class: enough labeled images for the tiny backbone to train and measure.
PER_SPLIT = {Split.TRAIN: 6, Split.VALIDATION: 3, Split.TEST: 3}


# ------------------------------------------------------------------------------------------
# The object store: one bucket, one scoped key per machine
# ------------------------------------------------------------------------------------------


@dataclass
class ObjectStore:
    endpoint: str
    bucket: str
    other_bucket: str
    keys: dict[str, tuple[str, str]]  # role -> (access key id, secret)

    def client(self, role: str):
        access_key, secret_key = self.keys[role]
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=REGION,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )

    def environment(self, role: str) -> dict[str, str]:
        """The variables .env.example documents, with this machine's own key."""
        access_key, secret_key = self.keys[role]
        return {
            "AWS_STORAGE_BUCKET_NAME": self.bucket,
            "AWS_S3_ENDPOINT_URL": self.endpoint,
            "AWS_S3_REGION_NAME": REGION,
            "AWS_S3_ADDRESSING_STYLE": "path",
            "AWS_ACCESS_KEY_ID": access_key,
            "AWS_SECRET_ACCESS_KEY": secret_key,
        }

    def keys_in_bucket(self) -> set[str]:
        pages = self.client("test").get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        return {item["Key"] for page in pages for item in page.get("Contents", [])}


@pytest.fixture(scope="module")
def object_store() -> Iterator[ObjectStore]:
    """A moto S3 server with the media bucket and an IAM user per machine whose policy
    allows that bucket only; then credentials are enforced, as on S3 and MinIO."""
    with moto_server() as port:
        endpoint = f"http://127.0.0.1:{port}"
        bucket, other_bucket = f"media-{uuid.uuid4().hex[:8]}", f"other-{uuid.uuid4().hex[:8]}"
        setup = {"endpoint_url": endpoint, "region_name": REGION}
        setup.update(aws_access_key_id="setup", aws_secret_access_key="setup")
        s3, iam = boto3.client("s3", **setup), boto3.client("iam", **setup)
        s3.create_bucket(Bucket=bucket)
        s3.create_bucket(Bucket=other_bucket)
        arn = f"arn:aws:s3:::{bucket}"
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": BUCKET_ACTIONS, "Resource": [arn]},
                {"Effect": "Allow", "Action": OBJECT_ACTIONS, "Resource": [f"{arn}/*"]},
            ],
        }
        keys = {}
        for role in ROLES:
            iam.create_user(UserName=role)
            iam.put_user_policy(
                UserName=role, PolicyName="media-readwrite", PolicyDocument=json.dumps(policy)
            )
            key = iam.create_access_key(UserName=role)["AccessKey"]
            keys[role] = (key["AccessKeyId"], key["SecretAccessKey"])
        moto_enforce_credentials(port)
        yield ObjectStore(endpoint, bucket, other_bucket, keys)


# ------------------------------------------------------------------------------------------
# The machines
# ------------------------------------------------------------------------------------------


@dataclass
class Machine:
    name: str
    process: subprocess.Popen
    log_path: Path
    media_root: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """Wait for the process to end after terminate(); kill it after 30 s."""
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def files_under(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()]


@dataclass
class Deployment:
    web_url: str
    machines: dict[str, Machine]

    def api(self, user) -> ApiClient:
        return ApiClient(self.web_url, Token.objects.get_or_create(user=user)[0].key)

    def logs(self) -> str:
        return "\n".join(f"--- {m.name}\n{m.log()[-4000:]}" for m in self.machines.values())


class ApiClient(requests.Session):
    """The API of the web machine, as a client behind the TLS proxy sees it, with a token."""

    def __init__(self, base_url: str, token: str):
        super().__init__()
        self.base_url = base_url
        self.headers.update(
            {"Authorization": f"Token {token}", "Host": PUBLIC_HOST, "X-Forwarded-Proto": "https"}
        )

    def request(self, method, url, *args, **kwargs):
        kwargs.setdefault("timeout", 90)
        return super().request(method, self.base_url + url, *args, **kwargs)


@pytest.fixture
def deploy(tmp_path) -> Iterator:
    """deploy(object_store=..., workers=(...)) -> Deployment: the web (gunicorn) and a worker
    per queue on the test database and a private Redis, each with its own empty MEDIA_ROOT,
    and, given an object store, its own key to the shared bucket. Stopped after the test."""
    private_redis = PrivateRedis(port=free_port(), folder=tmp_path)
    private_redis.start()
    machines: dict[str, Machine] = {}

    def environment(name: str, store: ObjectStore | None) -> dict[str, str | None]:
        folder = tmp_path / name
        (folder / "media").mkdir(parents=True)
        # Without a store, none of its variables (the test runner's shell may have some).
        storage = store.environment(name) if store else dict.fromkeys(STORE_VARIABLES, None)
        return production_environment(
            ALLOWED_HOSTS=PUBLIC_HOST,
            DATABASE_URL=database_url(),
            REDIS_URL=private_redis.url,
            CELERY_BROKER_URL=None,
            MEDIA_ROOT=str(folder / "media"),
            CLASSIFIER_BACKBONE="tiny",
            # Production settings know only classifier.ml's backbones: add the tests' one.
            CLASSIFIER_EXTRA_BACKBONES=f"tiny={tiny_backbone.LOADER}",
            CLASSIFIER_WEIGHTS_DIR=str(folder / "weights"),
            PYTHONUNBUFFERED="1",
            TF_CPP_MIN_LOG_LEVEL="2",
            **storage,
        )

    def launch(name: str, env: dict) -> Machine:
        """The compose file's service `name` as a machine of its own."""
        log_path = tmp_path / f"{name}.log"
        command = compose_service_command(name)
        process = production_process_start(command, env=env, log_path=log_path)
        machine = Machine(name, process, log_path, tmp_path / name / "media")
        machines[name] = machine
        return machine

    def start(*, object_store: ObjectStore | None, workers=("training", "prediction")):
        port = free_port()
        web_env = {**environment("web", object_store), "PORT": str(port), "WEB_CONCURRENCY": "1"}
        launch("web", web_env)
        for queue in workers:
            launch(f"worker-{queue}", environment(f"worker-{queue}", object_store))
        deployment = Deployment(f"http://127.0.0.1:{port}", machines)
        _wait_ready(deployment)
        return deployment

    yield start
    for machine in machines.values():  # all at once: each takes seconds to shut down
        if machine.process.poll() is None:
            machine.process.terminate()
    for machine in machines.values():
        machine.stop()
    private_redis.stop()


def _wait_ready(deployment: Deployment) -> None:
    def ready() -> bool:
        for machine in deployment.machines.values():
            if machine.process.poll() is not None:
                raise AssertionError(f"{machine.name} exited:\n{machine.log()[-5000:]}")
        try:
            requests.get(f"{deployment.web_url}/healthz", timeout=2).raise_for_status()
        except requests.RequestException:
            return False
        return all(
            " ready." in machine.log()
            for name, machine in deployment.machines.items()
            if name.startswith("worker-")
        )

    wait_until(ready, timeout=180, interval=0.3, message="the web and the workers")


# ------------------------------------------------------------------------------------------
# Through the API, as a client of the deployment would
# ------------------------------------------------------------------------------------------


def upload(api: ApiClient, project, pictures: dict[str, bytes], **fields) -> list[int]:
    files = [("files", (name, data, "image/png")) for name, data in pictures.items()]
    response = api.post(f"/api/projects/{project.pk}/images/", files=files, data=fields)
    assert response.status_code == 201, response.text
    report = response.json()
    assert not report["rejected"] and not report["duplicates"], report
    return [created["id"] for created in report["created"]]


def upload_labeled(api: ApiClient, project) -> list[int]:
    ids, seed = [], 0
    for split, count in PER_SPLIT.items():
        for label, color in CLASS_COLORS.items():
            pictures = {}
            for _ in range(count):
                seed += 1
                jitter = tuple(min(255, c + (seed * 7) % 30) for c in color)
                pictures[f"{label}-{seed}.png"] = png_bytes(color=jitter, seed=seed)
            ids += upload(api, project, pictures, split=split, label=label)
    return ids


def train(api: ApiClient, project) -> dict:
    created = api.post(
        f"/api/projects/{project.pk}/training-runs/", json={"hyperparameters": FAST_TRAINING}
    )
    assert created.status_code == 202, created.text
    return api.get(f"/api/training-runs/{created.json()['id']}/?wait=60").json()


def prediction_jobs_finished(project) -> bool:
    jobs = PredictionJob.objects.filter(project=project)
    return jobs.exists() and not jobs.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING])


# ------------------------------------------------------------------------------------------
# Tests
# ------------------------------------------------------------------------------------------


def test_each_machines_key_reaches_the_shared_bucket_and_nothing_else(object_store):
    web, worker = object_store.client("web"), object_store.client("worker-prediction")
    web.put_object(Bucket=object_store.bucket, Key="probe/shared.txt", Body=b"from the web")

    shared = worker.get_object(Bucket=object_store.bucket, Key="probe/shared.txt")
    assert shared["Body"].read() == b"from the web"
    with pytest.raises(ClientError, match="AccessDenied"):
        worker.put_object(Bucket=object_store.other_bucket, Key="probe.txt", Body=b"x")
    unknown = boto3.client(
        "s3", endpoint_url=object_store.endpoint, region_name=REGION,
        aws_access_key_id="nobody", aws_secret_access_key="nothing",
    )  # fmt: skip
    with pytest.raises(ClientError, match="InvalidAccessKeyId"):
        unknown.get_object(Bucket=object_store.bucket, Key="probe/shared.txt")
    worker.delete_object(Bucket=object_store.bucket, Key="probe/shared.txt")


def test_web_and_workers_with_separate_media_roots_train_and_predict_through_the_bucket(
    deploy, object_store, project, owner
):
    deployment = deploy(object_store=object_store)
    api = deployment.api(owner)
    labeled = upload_labeled(api, project)

    run = train(api, project)

    assert run["status"] == "succeeded", (run, deployment.logs())
    version = ModelVersion.objects.get(pk=run["model_version"]["id"])
    assert version.artifact.name in object_store.keys_in_bucket()
    images = Image.objects.filter(pk__in=labeled)
    assert {image.file.name for image in images} <= object_store.keys_in_bucket()

    # Activation re-predicts the project on the prediction worker, which reads the head
    # from the bucket (the training worker wrote it).
    wait_until(lambda: prediction_jobs_finished(project), timeout=60, message="re-prediction")
    unsuccessful = PredictionJob.objects.filter(project=project).exclude(status=JobStatus.SUCCEEDED)
    assert not unsuccessful, list(unsuccessful.values_list("status", "error"))
    assert Prediction.objects.filter(model_version=version).count() == len(labeled)

    # A new upload is predicted from its file in the bucket: no embedding of it is cached.
    [new_image] = upload(api, project, {"mug.png": png_bytes(color=(150, 90, 40), seed=9001)})
    wait_until(
        lambda: api.get(f"/api/images/{new_image}/predictions/").json(),
        timeout=60,
        message="the new image's prediction",
    )
    [prediction] = api.get(f"/api/images/{new_image}/predictions/").json()
    assert prediction["label"] == "coffee"

    # Ad-hoc files go to the bucket under jobs/, are read there by the worker, then deleted.
    job = api.post(
        f"/api/projects/{project.pk}/predictions/",
        files=[
            ("files", ("cup.png", png_bytes(color=(150, 90, 40), seed=9002), "image/png")),
            ("files", ("sky.png", png_bytes(color=(40, 90, 200), seed=9003), "image/png")),
        ],
    )
    assert job.status_code == 202, job.text
    result = api.get(f"/api/prediction-jobs/{job.json()['id']}/?wait=60").json()
    assert result["status"] == "succeeded", (result, deployment.logs())
    assert [(r["name"], r["label"]) for r in result["results"]] == [
        ("cup.png", "coffee"),
        ("sky.png", "other"),
    ]
    assert not [key for key in object_store.keys_in_bucket() if key.startswith("jobs/")]

    # Nothing went through a local folder.
    for machine in deployment.machines.values():
        assert files_under(machine.media_root) == [], machine.name


def test_without_a_shared_store_the_worker_cannot_read_the_webs_images_and_the_run_says_so(
    deploy, project, owner
):
    # The negative control: separate local folders and no object store. The web stores the
    # uploads in its own MEDIA_ROOT; the training worker looks in its own and finds nothing.
    deployment = deploy(object_store=None, workers=("training",))
    api = deployment.api(owner)
    labeled = upload_labeled(api, project)

    run = train(api, project)

    assert run["status"] == "failed", (run, deployment.logs())
    missing = Image.objects.filter(pk__in=labeled).order_by("pk").first().file.name
    assert missing in run["error"], run["error"]
    assert "MEDIA_ROOT" in run["error"] and "AWS_STORAGE_BUCKET_NAME" in run["error"]
    assert not ModelVersion.objects.filter(project=project).exists()
    web, worker = deployment.machines["web"], deployment.machines["worker-training"]
    assert len(files_under(web.media_root)) == 2 * len(labeled)  # images and thumbnails
    assert files_under(worker.media_root) == []
