"""Media on S3 through django-storages, against a real S3-compatible server (moto in server
mode, a separate process on a loopback port): private objects, short-lived signed URLs."""

import io
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.config import Config
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse

from labeling.ingest import IncomingFile, image_ingest
from tests.deploy.presigned_url import presigned_url_expiry, presigned_url_signature_is_valid
from tests.factories import ImageFactory, png_bytes
from tests.support.fake_s3 import moto_server
from tests.support.production import run_in_production

ACCESS_KEY = "labelplatform-test"
SECRET_KEY = "labelplatform-test-secret"
REGION = "us-east-1"
SHORT_EXPIRY_SECONDS = 60


@pytest.fixture(scope="module")
def s3_port():
    """A moto S3 server in its own process on 127.0.0.1."""
    with moto_server() as port:
        yield port


def _client(endpoint: str):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name=REGION,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )


@pytest.fixture
def bucket(s3_port):
    name = f"media-{uuid.uuid4().hex[:12]}"
    _client(f"http://127.0.0.1:{s3_port}").create_bucket(Bucket=name)
    return name


def _media_on_s3(settings, *, endpoint: str, bucket: str, public_endpoint: str | None = None):
    """STORAGES as base.py builds it when AWS_STORAGE_BUCKET_NAME is set."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "labelplatform.object_storage.S3MediaStorage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": endpoint,
                "public_endpoint_url": public_endpoint,
                "access_key": ACCESS_KEY,
                "secret_key": SECRET_KEY,
                "region_name": REGION,
                "addressing_style": "path",
                "signature_version": "s3v4",
                "default_acl": "private",
                "querystring_auth": True,
                "querystring_expire": SHORT_EXPIRY_SECONDS,
                "file_overwrite": False,
            },
        },
    }


@pytest.fixture
def media_on_s3(settings, s3_port, bucket):
    _media_on_s3(settings, endpoint=f"http://127.0.0.1:{s3_port}", bucket=bucket)
    return bucket


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, b""


def test_an_image_stored_through_the_storage_api_is_an_object_in_the_bucket(
    media_on_s3, s3_port, project
):
    content = png_bytes(seed=101)
    image = ImageFactory(project=project, content=content)

    stored = _client(f"http://127.0.0.1:{s3_port}").get_object(
        Bucket=media_on_s3, Key=image.file.name
    )
    assert stored["Body"].read() == content
    with image.file.open("rb") as read_back:
        assert read_back.read() == content


def test_an_ingested_upload_lands_in_the_bucket(media_on_s3, s3_port, project, owner):
    content = png_bytes(seed=202, size=(64, 48))
    report = image_ingest(
        project=project,
        uploaded_by=owner,
        files=[IncomingFile(name="cup.png", file=io.BytesIO(content))],
    )
    [image] = report.created
    client = _client(f"http://127.0.0.1:{s3_port}")
    assert client.get_object(Bucket=media_on_s3, Key=image.file.name)["Body"].read() == content
    client.head_object(Bucket=media_on_s3, Key=image.thumbnail.name)


def test_objects_are_private_an_unsigned_get_is_denied(media_on_s3, s3_port):
    name = default_storage.save("private/probe.txt", ContentFile(b"not for everyone"))

    status, body = _get(f"http://127.0.0.1:{s3_port}/{media_on_s3}/{name}")
    assert (status, body) == (403, b"")


def test_a_public_object_would_be_readable_without_signature(s3_port, bucket):
    # The server does tell private from public: the test above can fail.
    client = _client(f"http://127.0.0.1:{s3_port}")
    client.put_object(Bucket=bucket, Key="public.txt", Body=b"everyone", ACL="public-read")
    assert _get(f"http://127.0.0.1:{s3_port}/{bucket}/public.txt") == (200, b"everyone")


def test_the_url_is_signed_short_lived_and_serves_the_object(media_on_s3):
    name = default_storage.save("signed/probe.txt", ContentFile(b"signed bytes"))

    url = default_storage.url(name)

    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == [str(SHORT_EXPIRY_SECONDS)]
    assert query["X-Amz-Credential"][0].startswith(f"{ACCESS_KEY}/")
    assert presigned_url_signature_is_valid(url, secret_key=SECRET_KEY)
    assert not presigned_url_signature_is_valid(url, secret_key="another-secret")
    expires = presigned_url_expiry(url)
    now = datetime.now(UTC)
    assert now < expires <= now + timedelta(seconds=SHORT_EXPIRY_SECONDS + 5)
    assert _get(url) == (200, b"signed bytes")


def test_browser_urls_are_signed_for_the_public_endpoint(settings, s3_port, bucket):
    # The processes reach the store as 127.0.0.1, browsers as localhost (compose: "storage"
    # versus the published host name). SigV4 signs the host, so the URL must be signed for
    # the public one, not rewritten after signing.
    _media_on_s3(
        settings,
        endpoint=f"http://127.0.0.1:{s3_port}",
        public_endpoint=f"http://localhost:{s3_port}",
        bucket=bucket,
    )
    name = default_storage.save("public-host/probe.txt", ContentFile(b"through the front door"))

    url = default_storage.url(name)

    assert urlsplit(url).netloc == f"localhost:{s3_port}"
    assert presigned_url_signature_is_valid(url, secret_key=SECRET_KEY)
    assert not presigned_url_signature_is_valid(
        url.replace(f"localhost:{s3_port}", f"127.0.0.1:{s3_port}"), secret_key=SECRET_KEY
    )
    assert _get(url) == (200, b"through the front door")


def test_the_environment_of_a_deployment_puts_media_on_s3(s3_port, bucket):
    # base.py's switch, end to end: the variables .env.example documents, production settings.
    result = run_in_production(
        "-c",
        "import django; django.setup(); "
        "from django.core.files.base import ContentFile; "
        "from django.core.files.storage import default_storage as storage; "
        "name = storage.save('env/probe.txt', ContentFile(b'from the environment')); "
        "print(name); print(storage.url(name))",
        AWS_STORAGE_BUCKET_NAME=bucket,
        AWS_S3_ENDPOINT_URL=f"http://127.0.0.1:{s3_port}",
        AWS_S3_PUBLIC_ENDPOINT_URL=f"http://localhost:{s3_port}",
        AWS_ACCESS_KEY_ID=ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
        AWS_S3_REGION_NAME=REGION,
        AWS_S3_ADDRESSING_STYLE="path",
        AWS_QUERYSTRING_EXPIRE="120",
    )
    assert result.returncode == 0, result.stderr
    name, url = result.stdout.split()
    stored = _client(f"http://127.0.0.1:{s3_port}").get_object(Bucket=bucket, Key=name)
    assert stored["Body"].read() == b"from the environment"
    assert urlsplit(url).netloc == f"localhost:{s3_port}"
    assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == ["120"]
    assert presigned_url_signature_is_valid(url, secret_key=SECRET_KEY)
    assert _get(f"http://127.0.0.1:{s3_port}/{bucket}/{name}")[0] == 403


@pytest.mark.parametrize("view", ["labeling:image-file", "labeling:image-thumbnail"])
def test_the_members_only_media_views_redirect_members_to_a_signed_url(
    settings, s3_port, bucket, client, project, viewer, view
):
    _media_on_s3(
        settings,
        endpoint=f"http://127.0.0.1:{s3_port}",
        public_endpoint=f"http://localhost:{s3_port}",
        bucket=bucket,
    )
    content = png_bytes(seed=303)
    image = ImageFactory(project=project, content=content)
    client.force_login(viewer)

    response = client.get(reverse(view, args=[image.pk]))

    assert response.status_code == 302
    url = response["Location"]
    assert urlsplit(url).netloc == f"localhost:{s3_port}"
    assert presigned_url_signature_is_valid(url, secret_key=SECRET_KEY)
    assert _get(url) == (200, content)


def test_the_media_view_gives_an_outsider_no_url(media_on_s3, client, project, outsider):
    image = ImageFactory(project=project)
    client.force_login(outsider)

    response = client.get(reverse("labeling:image-file", args=[image.pk]))

    assert response.status_code == 404
    assert "Location" not in response
