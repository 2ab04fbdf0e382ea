"""The export endpoints (a path per format, and the older ?format=) stream what
labeling.export builds; its content is tested there."""

import csv
import io
import json
import zipfile

import pytest

from labeling.models import Split
from labeling.services import annotation_create
from tests.factories import ImageFactory
from tests.support.responses import assert_json_error


@pytest.fixture
def dataset(project, owner):
    """A coffee image in train, an other image in test, an unlabeled one in validation."""
    coffee, other = project.classes.all()
    mug = ImageFactory(project=project, split=Split.TRAIN, original_name="mug.png")
    tree = ImageFactory(project=project, split=Split.TEST, original_name="tree.png")
    ImageFactory(project=project, split=Split.VALIDATION, original_name="unknown.png")
    annotation_create(image=mug, user=owner, label_class=coffee)
    annotation_create(image=tree, user=owner, label_class=other)
    return mug, tree


def export(client, project, query=""):
    return client.get(f"/api/projects/{project.pk}/export/{query}")


def body_of(response) -> bytes:
    assert response.streaming
    return b"".join(response.streaming_content)


@pytest.mark.parametrize("query", ["zip/", "", "?format=zip"])
def test_the_zip_holds_the_labeled_images_in_imagefolder_layout(
    api_as, project, owner, dataset, query
):
    mug, tree = dataset
    response = export(api_as(owner), project, query)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == 'attachment; filename="coffee-dataset.zip"'
    archive = zipfile.ZipFile(io.BytesIO(body_of(response)))
    assert sorted(name for name in archive.namelist() if not name.endswith("/")) == [
        f"test/other/{tree.pk}-tree.png",
        f"train/coffee/{mug.pk}-mug.png",
    ]
    assert archive.read(f"train/coffee/{mug.pk}-mug.png") == mug.file.open("rb").read()


def test_the_zip_has_a_folder_for_every_split_and_class_even_when_empty(
    api_as, project, owner, dataset
):
    # keras' image_dataset_from_directory takes a split's classes from its folders.
    archive = zipfile.ZipFile(io.BytesIO(body_of(export(api_as(owner), project, "zip/"))))
    folders = {name for name in archive.namelist() if name.endswith("/")}
    assert folders == {f"{split}/{name}/" for split in Split.values for name in ("coffee", "other")}


def test_the_zip_is_octet_stream_for_a_client_that_asks_for_it(api_as, project, owner, dataset):
    response = api_as(owner).get(
        f"/api/projects/{project.pk}/export/zip/", HTTP_ACCEPT="application/octet-stream"
    )
    assert response["Content-Type"] == "application/octet-stream"
    assert zipfile.ZipFile(io.BytesIO(body_of(response))).namelist()


@pytest.mark.parametrize("query", ["csv/", "?format=csv"])
def test_the_csv_has_a_row_per_image(api_as, project, owner, dataset, query):
    response = export(api_as(owner), project, query)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == 'attachment; filename="coffee-labels.csv"'
    rows = list(csv.DictReader(io.StringIO(body_of(response).decode("utf-8"))))
    assert sorted((row["original_name"], row["label"]) for row in rows) == [
        ("mug.png", "coffee"),
        ("tree.png", "other"),
        ("unknown.png", ""),
    ]


@pytest.mark.parametrize("query", ["json/", "?format=json"])
def test_the_json_has_the_project_and_every_image(api_as, project, owner, dataset, query):
    response = export(api_as(owner), project, query)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    document = json.loads(body_of(response))
    assert document["project"]["name"] == "Coffee"
    assert len(document["images"]) == 3
    [mug] = [image for image in document["images"] if image["original_name"] == "mug.png"]
    assert mug["annotations"][0]["user"] == owner.username


def test_an_unknown_format_is_a_400(api_as, project, owner):
    response = export(api_as(owner), project, "?format=tar")
    assert_json_error(response, 400)
    assert "format" in response.json()["detail"]


@pytest.mark.parametrize("query", ["zip/", "csv/", "json/", "?format=csv"])
def test_an_annotator_may_not_export(api_as, project, annotator, query):
    assert_json_error(export(api_as(annotator), project, query), 403)


@pytest.mark.parametrize("format", ["csv", "zip"])
def test_the_exports_first_queries_run_before_the_response_starts(
    api_as, project, owner, dataset, format
):
    # So a database unreachable at that moment is a 503 from the middleware, not a 500 after
    # the headers went out (the soak, bench/soak.py, met one during a PostgreSQL restart).
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = api_as(owner).get(f"/api/projects/{project.pk}/export/?format={format}")

    assert response.status_code == 200
    assert any("labeling_image" in query["sql"] for query in queries.captured_queries)
    assert b"".join(response.streaming_content)
