"""S3 for the tests, two ways: moto's in-process fake with the media settings pointing at one
bucket (media_on_fake_s3), or moto in server mode, a real S3-compatible server in a process of
its own on a loopback port (moto_server), for the processes the tests start (MinIO is what
compose runs; neither has to be mocked inside those processes).
"""

import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import boto3
from moto import mock_aws

from tests.support.processes import die_with_parent, free_port, process_stop

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


@contextmanager
def moto_server() -> Iterator[int]:
    """Start `python -m moto.server` on 127.0.0.1; yield its port once it answers."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=die_with_parent,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=1)
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the moto S3 server did not start") from None
                time.sleep(0.1)
        yield port
    finally:
        process_stop(server, timeout=10)


def moto_enforce_credentials(port: int) -> None:
    """From now on the server checks every request's signature against the IAM users' keys
    and their policies, as S3 (and MinIO) do; until then moto accepts any credentials."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/moto-api/reset-auth",
        data=b"0",  # the number of requests still allowed without checking
        method="POST",
        headers={"Content-Type": "text/plain"},  # moto reads the raw body
    )
    urllib.request.urlopen(request, timeout=10).close()
