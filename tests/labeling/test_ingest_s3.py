"""Ingest and export through S3 (moto's in-process fake): nothing goes by local path."""

import io
import zipfile

import pytest

from labeling.export import dataset_zip_export
from labeling.ingest import IncomingFile, image_ingest
from tests.support import upload_corpus as corpus
from tests.support.fake_s3 import media_on_fake_s3

BUCKET = "labelplatform-test"


@pytest.fixture
def s3_bucket(settings, monkeypatch):
    with media_on_fake_s3(
        settings, monkeypatch, bucket=BUCKET, default_acl="private", file_overwrite=False
    ) as client:
        yield client


def bucket_keys(client) -> list[str]:
    listing = client.list_objects_v2(Bucket=BUCKET)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def test_ingest_stores_in_the_bucket_and_rejects_leave_nothing(project, owner, s3_bucket):
    coffee = project.classes.get(name="coffee")
    report = image_ingest(
        project=project,
        uploaded_by=owner,
        files=[
            IncomingFile("cup.jpg", io.BytesIO(corpus.jpeg(seed=1))),
            IncomingFile("broken.jpg", io.BytesIO(corpus.truncated_jpeg())),
        ],
        label=coffee,
    )
    [image] = report.created
    assert bucket_keys(s3_bucket) == sorted([image.file.name, image.thumbnail.name])

    entries = zipfile.ZipFile(io.BytesIO(b"".join(dataset_zip_export(project=project).chunks)))
    files = [name for name in entries.namelist() if not name.endswith("/")]
    assert files == [f"{image.split}/coffee/{image.pk}-cup.jpg"]
    assert entries.read(files[0]) == corpus.jpeg(seed=1)
