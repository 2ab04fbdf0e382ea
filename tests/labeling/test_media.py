"""Image files reach members only: through a view that checks membership on the local
filesystem, or as a short-lived signed URL when the storage is S3."""

import boto3
import pytest
from django.test import override_settings
from django.urls import reverse
from moto import mock_aws

from tests.factories import ImageFactory, png_bytes


def body_of(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.mark.parametrize("url_name", ["labeling:image-file", "labeling:image-thumbnail"])
def test_a_member_gets_the_stored_bytes_privately_cached(client, project, viewer, url_name):
    content = png_bytes(seed=77)
    image = ImageFactory(project=project, content=content)
    client.force_login(viewer)
    response = client.get(reverse(url_name, args=[image.pk]))
    assert response.status_code == 200
    assert body_of(response) == content
    assert "private" in response["Cache-Control"]
    assert "public" not in response["Cache-Control"]


def test_the_original_is_served_with_its_formats_content_type(client, project, viewer):
    image = ImageFactory(project=project)
    client.force_login(viewer)
    assert (
        client.get(reverse("labeling:image-file", args=[image.pk]))["Content-Type"] == "image/png"
    )


@pytest.mark.parametrize("url_name", ["labeling:image-file", "labeling:image-thumbnail"])
def test_a_non_member_gets_404_not_the_file(client, project, outsider, url_name):
    image = ImageFactory(project=project)
    client.force_login(outsider)
    response = client.get(reverse(url_name, args=[image.pk]))
    assert response.status_code == 404
    assert png_bytes(seed=1)[:8] not in response.content


def test_an_image_without_a_thumbnail_falls_back_to_the_original(client, project, viewer):
    content = png_bytes(seed=5)
    image = ImageFactory(project=project, content=content, thumbnail="")
    client.force_login(viewer)
    assert body_of(client.get(reverse("labeling:image-thumbnail", args=[image.pk]))) == content


def test_a_missing_stored_file_is_a_404(client, project, viewer):
    image = ImageFactory(project=project)
    image.file.storage.delete(image.file.name)
    client.force_login(viewer)
    assert client.get(reverse("labeling:image-file", args=[image.pk])).status_code == 404


def test_the_stored_files_are_not_under_a_public_url(client, project, viewer):
    image = ImageFactory(project=project)
    client.force_login(viewer)
    # MEDIA_URL + the stored name is what a public media server would expose; nothing
    # answers there.
    assert client.get("/media/" + image.file.name).status_code == 404


S3_STORAGES = {
    "default": {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": "labelplatform-test",
            "access_key": "testing",
            "secret_key": "testing",
            "region_name": "us-east-1",
            "default_acl": "private",
            "querystring_auth": True,
            "querystring_expire": 300,
            "file_overwrite": False,
        },
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}


@pytest.fixture
def s3_bucket():
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="labelplatform-test")
        with override_settings(STORAGES=S3_STORAGES):
            yield


@pytest.mark.parametrize("url_name", ["labeling:image-file", "labeling:image-thumbnail"])
def test_on_s3_a_member_is_sent_to_a_short_lived_signed_url(
    client, project, viewer, s3_bucket, url_name
):
    image = ImageFactory(project=project)
    client.force_login(viewer)
    response = client.get(reverse(url_name, args=[image.pk]))
    assert response.status_code == 302
    location = response["Location"]
    assert "labelplatform-test" in location
    assert "Signature=" in location or "X-Amz-Signature=" in location
    assert "Expires=" in location or "X-Amz-Expires=300" in location
    assert "private" in response["Cache-Control"]


def test_on_s3_a_non_member_gets_no_signed_url(client, project, outsider, s3_bucket):
    image = ImageFactory(project=project)
    client.force_login(outsider)
    response = client.get(reverse("labeling:image-file", args=[image.pk]))
    assert response.status_code == 404
    assert "Location" not in response
