"""A labeling flow written as a new user would write it, against the client that
`openapi-python-client` generates from /api/schema/ (test_generated_client.py generates it into
a temporary folder, type-checks this file with `mypy --strict`, then runs it on a live server).

The annotations say what the schema promises: a field the server always returns is assigned to
a variable of its plain type (no `Unset`), a job's status is the shared JobStatusEnum, query
filters take the shared enums. If the schema stops promising it, mypy fails here.

Usage: python generated_client_flow.py BASE_URL USERNAME PASSWORD IMAGE_FOLDER
IMAGE_FOLDER is an ImageFolder <split>/<class>/*.png; the export must give it back.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import time
import zipfile
from pathlib import Path
from typing import TypeVar

from label_platform_client import AuthenticatedClient, Client
from label_platform_client.api.auth import auth_token_create
from label_platform_client.api.images import images_annotations_create
from label_platform_client.api.prediction_jobs import prediction_job_retrieve
from label_platform_client.api.projects import (
    model_versions_list,
    prediction_job_create,
    prediction_job_create_from_files,
    project_export_csv,
    project_export_json,
    project_export_zip,
    projects_create,
    projects_images_create,
    projects_images_list,
    training_run_create,
)
from label_platform_client.api.training_runs import training_run_retrieve
from label_platform_client.models import (
    AnnotationCreateRequest,
    CredentialsRequest,
    Error,
    ImageUploadRequest,
    IngestReport,
    JobStatusEnum,
    ModelVersion,
    ModelVersionOfRun,
    PredictFilesRequest,
    PredictImagesRequest,
    PredictionJob,
    ProjectCreateRequest,
    RoleEnum,
    SplitEnum,
    SplitOrAutoEnum,
    TrainingRun,
    TrainingRunStartRequest,
    TrainingRunStartRequestHyperparameters,
)
from label_platform_client.types import File

T = TypeVar("T")
FINISHED = {JobStatusEnum.SUCCEEDED, JobStatusEnum.FAILED, JobStatusEnum.CANCELLED}


def answer(result: T | Error | None, what: str) -> T:
    """The operation's documented success body, or a failure naming the call."""
    if result is None or isinstance(result, Error):
        raise SystemExit(f"{what}: {result!r}")
    return result


def run_finished(client: AuthenticatedClient, run_id: int) -> TrainingRun:
    deadline = time.monotonic() + 60
    while True:
        run = answer(training_run_retrieve.sync(run_id, client=client, wait=10), "run")
        status: JobStatusEnum = run.status
        progress: int = run.progress
        version: ModelVersionOfRun | None = run.model_version
        if status in FINISHED:
            return run
        # Not finished: no version yet, and the client must be able to say so.
        assert version is None, (status, progress, version)
        assert time.monotonic() < deadline, f"run {run_id} still {status} at {progress}%"


def prediction_finished(client: AuthenticatedClient, job_id: int) -> PredictionJob:
    deadline = time.monotonic() + 60
    while True:
        job = answer(prediction_job_retrieve.sync(job_id, client=client, wait=10), "job")
        status: JobStatusEnum = job.status
        if status in FINISHED:
            return job
        assert time.monotonic() < deadline, f"prediction job {job_id} still {status}"


def main(base_url: str, username: str, password: str, folder: Path) -> None:
    credentials = CredentialsRequest(username=username, password=password)
    token = answer(auth_token_create.sync(client=Client(base_url), body=credentials), "token")
    client = AuthenticatedClient(base_url, token=token.token, prefix="Token")

    splits = sorted(path.name for path in folder.iterdir())
    classes = sorted({path.name for path in folder.glob("*/*")})
    project = answer(
        projects_create.sync(
            client=client, body=ProjectCreateRequest(name="From the client", classes=classes)
        ),
        "project",
    )
    role: RoleEnum = project.role
    assert role == RoleEnum.OWNER
    colours: list[str] = [label_class.color for label_class in project.classes]
    assert all(colour.startswith("#") for colour in colours), colours

    for split in splits:
        for class_name in classes:
            files = [
                File(payload=io.BytesIO(path.read_bytes()), file_name=path.name)
                for path in sorted((folder / split / class_name).glob("*.png"))
            ]
            report = projects_images_create.sync(
                project.id,
                client=client,
                body=ImageUploadRequest(files=files, split=SplitOrAutoEnum(split)),
            )
            assert isinstance(report, IngestReport), report
            assert len(report.created) == len(files), report
            for created in report.created:
                annotation = images_annotations_create.sync(
                    created.id, client=client, body=AnnotationCreateRequest(label=class_name)
                )
                answer(annotation, "label")

    train_images = answer(
        projects_images_list.sync(project.id, client=client, split=SplitEnum.TRAIN), "images"
    )
    count: int = train_images.count
    assert count == sum(1 for _ in folder.glob("train/*/*.png")), count

    hyperparameters = TrainingRunStartRequestHyperparameters.from_dict(
        {"max_epochs": 15, "patience": 5, "learning_rate": 0.05}
    )
    started = answer(
        training_run_create.sync(
            project.id, client=client, body=TrainingRunStartRequest(hyperparameters=hyperparameters)
        ),
        "retrain",
    )
    started_status: JobStatusEnum = started.status
    assert started_status in {JobStatusEnum.QUEUED, JobStatusEnum.RUNNING}, started_status
    run = run_finished(client, started.id)
    assert run.status == JobStatusEnum.SUCCEEDED, run.error
    assert run.hyperparameters.max_epochs == 15, run.hyperparameters
    made = run.model_version
    assert made is not None

    versions: list[ModelVersion] = answer(model_versions_list.sync(project.id, client=client), "")
    [version] = versions
    train_counts: dict[str, int] = version.counts["train"].additional_properties
    assert sum(train_counts.values()) == count, version.counts

    by_id = answer(
        prediction_job_create.sync(
            project.id,
            client=client,
            body=PredictImagesRequest(image_ids=[train_images.results[0].id]),
        ),
        "predict images",
    )
    predicted = prediction_finished(client, by_id.id)
    assert predicted.status == JobStatusEnum.SUCCEEDED, predicted.error
    assert [result.image_id for result in predicted.results] == [train_images.results[0].id]

    some_file = next(folder.glob("test/*/*.png"))
    ad_hoc = answer(
        prediction_job_create_from_files.sync(
            project.id,
            client=client,
            body=PredictFilesRequest(
                files=[File(payload=io.BytesIO(some_file.read_bytes()), file_name=some_file.name)]
            ),
        ),
        "predict files",
    )
    predicted = prediction_finished(client, ad_hoc.id)
    assert predicted.status == JobStatusEnum.SUCCEEDED, predicted.error
    [result] = predicted.results
    assert result.name == some_file.name and result.label in classes, result

    exported_zip: File = answer(project_export_zip.sync(project.id, client=client), "zip")
    with zipfile.ZipFile(exported_zip.payload) as archive:
        names = set(archive.namelist())
    expected = {str(path.relative_to(folder)) for path in folder.glob("*/*/*.png")}
    assert len({name for name in names if name.endswith(".png")}) == len(expected), names
    assert {f"{split}/{name}/" for split in splits for name in classes} <= names, names

    exported_csv: str = answer(project_export_csv.sync(project.id, client=client), "csv")
    rows = list(csv.DictReader(io.StringIO(exported_csv)))
    assert len(rows) == len(expected), rows

    exported_json = answer(project_export_json.sync(project.id, client=client), "json")
    assert len(exported_json.images) == len(expected), json.dumps(exported_json.to_dict())[:500]
    print("flow done")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4]))
