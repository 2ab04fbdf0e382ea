"""Media on S3 for a test: moto's in-process fake, with the settings pointing at one bucket."""

from collections.abc import Iterator
from contextlib import contextmanager

import boto3
from moto import mock_aws

S3_STORAGE = "storages.backends.s3.S3Storage"


@contextmanager
def media_on_fake_s3(
    settings, monkeypatch, *, bucket: str, create: bool = True, backend: str = S3_STORAGE, **options
) -> Iterator[object]:
    """Within it, the default storage is `backend` on `bucket` (made unless `create` is False,
    so that every write is refused) with `options`; yields the boto3 client."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        if create:
            client.create_bucket(Bucket=bucket)
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {"BACKEND": backend, "OPTIONS": {"bucket_name": bucket, **options}},
        }
        yield client
