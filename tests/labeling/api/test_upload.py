"""Uploads through the API, end to end with the real ingest: per-file verdicts."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from labeling.models import Annotation, Image, LabelStatus, Split
from tests.support import upload_corpus as corpus
from tests.support.responses import assert_json_error


def upload(client, project, files: dict[str, bytes], **fields):
    payload = {"files": [SimpleUploadedFile(name, data) for name, data in files.items()], **fields}
    return client.post(f"/api/projects/{project.pk}/images/", payload, format="multipart")


def test_good_bad_and_duplicate_files_each_get_their_verdict(
    api_as, project, annotator, stored_files
):
    client = api_as(annotator)
    first = upload(client, project, {"kept.jpg": corpus.jpeg(seed=1)}, split="train")
    [kept] = first.json()["created"]
    response = upload(
        client,
        project,
        {
            "new.png": corpus.png(seed=2),
            "again.jpg": corpus.jpeg(seed=1),
            "notes.jpg": corpus.text_named_jpg(),
            "broken.jpg": corpus.truncated_jpeg(),
            "empty.png": b"",
        },
        split="train",
    )
    assert response.status_code == 201
    body = response.json()
    [created] = body["created"]
    new = Image.objects.get(pk=created["id"])
    assert created == {"id": new.pk, "sha256": new.sha256, "split": "train", "label": None}
    assert new.original_name == "new.png" and new.uploaded_by == annotator
    assert body["duplicates"] == [{"name": "again.jpg", "id": kept["id"]}]
    rejected = {item["name"]: item["error"] for item in body["rejected"]}
    assert set(rejected) == {"notes.jpg", "broken.jpg", "empty.png"}
    assert all(rejected.values())
    assert project.images.count() == 2
    assert len(stored_files()) == 4  # two images, two thumbnails: nothing of the rejected


def test_a_label_given_with_the_upload_is_the_uploaders_annotation(api_as, project, owner):
    response = upload(api_as(owner), project, {"mug.jpg": corpus.jpeg(seed=3)}, label="coffee")
    [created] = response.json()["created"]
    assert created["label"] == "coffee"
    image = Image.objects.get(pk=created["id"])
    assert image.label_status == LabelStatus.LABELED
    assert Annotation.objects.get(image=image).user == owner


def test_a_label_waits_for_consensus_when_more_annotations_are_required(api_as, project, owner):
    project.annotations_per_image = 2
    project.save()
    response = upload(api_as(owner), project, {"mug.jpg": corpus.jpeg(seed=3)}, label="coffee")
    assert response.json()["created"][0]["label"] is None


@pytest.mark.parametrize("split", ["train", "validation", "test"])
def test_a_chosen_split_is_kept(api_as, project, owner, split):
    response = upload(api_as(owner), project, {"a.jpg": corpus.jpeg(seed=4)}, split=split)
    assert response.json()["created"][0]["split"] == split


def test_the_automatic_split_is_the_default(api_as, project, owner):
    files = {f"{n}.jpg": corpus.jpeg(seed=10 + n) for n in range(10)}
    response = upload(api_as(owner), project, files)
    splits = [item["split"] for item in response.json()["created"]]
    assert len(splits) == 10
    assert {splits.count(s) for s in Split.values} == {6, 2}


def test_a_zip_is_expanded_member_by_member(api_as, project, owner):
    archive = corpus.zip_archive(
        {"coffee/a.jpg": corpus.jpeg(seed=5), "coffee/b.png": corpus.png(seed=6), "x.txt": b"hi"}
    )
    body = upload(api_as(owner), project, {"photos.zip": archive}).json()
    assert len(body["created"]) == 2
    assert [item["name"] for item in body["rejected"]] == ["x.txt"]


def test_uploaded_images_are_listed_and_readable(api_as, project, viewer, owner):
    created = upload(api_as(owner), project, {"a.jpg": corpus.jpeg(seed=7)}).json()["created"]
    image = api_as(viewer).get(f"/api/images/{created[0]['id']}/").json()
    assert (image["width"], image["height"], image["format"]) == (64, 48, "JPEG")
    listed = api_as(viewer).get(f"/api/projects/{project.pk}/images/").json()
    assert [item["id"] for item in listed["results"]] == [created[0]["id"]]


def test_the_image_urls_serve_the_files_to_members_with_their_api_token(
    api_as, project, owner, viewer
):
    data = corpus.jpeg(seed=8)
    created = upload(api_as(owner), project, {"a.jpg": data}).json()["created"]
    image = api_as(viewer).get(f"/api/images/{created[0]['id']}/").json()
    response = api_as(viewer).get(image["url"])
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data
    thumbnail = api_as(viewer).get(image["thumbnail_url"])
    assert thumbnail.status_code == 200
    assert thumbnail["Content-Type"] == "image/jpeg"


def test_the_image_url_is_a_404_for_an_outsiders_token(api_as, project, owner, outsider):
    created = upload(api_as(owner), project, {"a.jpg": corpus.jpeg(seed=8)}).json()["created"]
    url = api_as(owner).get(f"/api/images/{created[0]['id']}/").json()["url"]
    assert api_as(outsider).get(url).status_code == 404


def test_the_image_url_wants_a_login_without_a_valid_token(api_as, project, owner):
    created = upload(api_as(owner), project, {"a.jpg": corpus.jpeg(seed=8)}).json()["created"]
    url = api_as(owner).get(f"/api/images/{created[0]['id']}/").json()["url"]
    client = api_as(None)
    assert client.get(url).status_code == 302
    client.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert client.get(url).status_code == 302


def test_an_unknown_label_stores_nothing(api_as, project, owner):
    response = upload(api_as(owner), project, {"a.jpg": corpus.jpeg(seed=9)}, label="tea")
    assert_json_error(response, 400)
    assert not project.images.exists()


def test_a_misspelt_field_stores_nothing_and_names_the_field(api_as, project, owner):
    response = upload(api_as(owner), project, {"a.jpg": corpus.jpeg(seed=9)}, spilt="test")
    assert_json_error(response, 400)
    assert "spilt" in str(response.json())
    assert not project.images.exists()
