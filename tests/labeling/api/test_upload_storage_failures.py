"""Uploads through the API when the storage fails: 507 (full) or 503 (unavailable) in the
API's error format, with every file's verdict (see tests/labeling/test_storage_full.py)."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from labeling.models import Image
from tests.labeling.storage_faults import FULL, UNAVAILABLE, files_below
from tests.labeling.test_storage_full import spool_filling_files
from tests.support import upload_corpus as corpus
from tests.support.fake_s3 import media_on_fake_s3
from tests.support.responses import assert_json_error


def api_upload(client, project, files: dict[str, bytes]):
    payload = {"files": [SimpleUploadedFile(name, data) for name, data in files.items()]}
    return client.post(f"/api/projects/{project.pk}/images/", payload, format="multipart")


def test_the_api_answers_507_in_its_error_format_with_each_files_verdict(
    api_as, project, annotator, disk_full_after
):
    media = disk_full_after(1)

    response = api_upload(api_as(annotator), project, {"cup.jpg": corpus.jpeg(seed=1)})

    assert_json_error(response, 507)
    body = response.json()
    assert body["detail"] == (
        "The server's storage is full: 0 file(s) stored, 1 not stored. Send the others again "
        "later: the ones stored are reported as duplicates."
    )
    assert body["created"] == [] and body["rejected"] == [{"name": "cup.jpg", "error": FULL}]
    assert Image.objects.count() == 0
    assert files_below(media) == []


@pytest.fixture
def missing_bucket(settings, monkeypatch):
    """Media on S3 (moto's fake), in a bucket that does not exist: every write is refused."""
    with media_on_fake_s3(
        settings,
        monkeypatch,
        bucket="labelplatform-missing",
        create=False,
        backend="labelplatform.object_storage.S3MediaStorage",
        file_overwrite=False,
    ) as client:
        client.create_bucket(Bucket="some-other-bucket")
        yield client


def test_an_object_store_refusing_the_write_is_a_503_through_the_api(
    api_as, project, annotator, missing_bucket
):
    response = api_upload(api_as(annotator), project, {"cup.jpg": corpus.jpeg(seed=1)})

    assert_json_error(response, 503)
    body = response.json()
    assert body["detail"].startswith("The server could not write to its storage: 0 file(s)")
    assert body["rejected"] == [{"name": "cup.jpg", "error": UNAVAILABLE}]
    assert Image.objects.count() == 0
    assert "Contents" not in missing_bucket.list_objects_v2(Bucket="some-other-bucket")


def test_an_api_upload_whose_spool_fills_answers_507_in_the_api_format(
    api_as, project, annotator, small_spool, media_root
):
    payload = {
        "files": [SimpleUploadedFile(name, data) for name, data in spool_filling_files().items()]
    }

    response = api_as(annotator).post(
        f"/api/projects/{project.pk}/images/", payload, format="multipart"
    )

    assert response.status_code == 507
    assert list(response.json()) == ["detail"]
    assert Image.objects.count() == 0
    assert files_below(Path(media_root)) == []
    assert files_below(small_spool) == []
