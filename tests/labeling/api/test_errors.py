"""Whatever a client sends, an error is JSON with a "detail" and a 4xx status, never a 500."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tests.factories import ImageFactory, png_bytes
from tests.support.responses import assert_json_error


@pytest.fixture
def client(api_as, owner):
    return api_as(owner)


@pytest.mark.parametrize(
    "url",
    ["/api/projects/", "/api/projects/{project}/members/", "/api/images/{image}/annotations/"],
)
def test_malformed_json_is_a_400(client, project, url):
    image = ImageFactory(project=project)
    response = client.post(
        url.format(project=project.pk, image=image.pk),
        data='{"name": "x", ',
        content_type="application/json",
    )
    assert_json_error(response, 400)
    assert "JSON parse error" in response.json()["detail"]


@pytest.mark.parametrize("body", ["[]", '"text"', "42", "null"])
def test_json_that_is_not_an_object_is_a_400(client, body):
    response = client.post("/api/projects/", data=body, content_type="application/json")
    assert_json_error(response, 400)


def test_an_unsupported_content_type_is_a_415(client):
    response = client.post("/api/projects/", data="name=x", content_type="text/plain")
    assert_json_error(response, 415)


def test_an_upload_sent_as_json_is_a_415(client, project):
    response = client.post(
        f"/api/projects/{project.pk}/images/", {"files": ["a.png"]}, format="json"
    )
    assert_json_error(response, 415)


def test_an_upload_without_files_is_a_400(client, project):
    response = client.post(
        f"/api/projects/{project.pk}/images/", {"split": "train"}, format="multipart"
    )
    assert_json_error(response, 400)
    assert "files" in response.json()["detail"]


@pytest.mark.parametrize(
    ("fields", "field"), [({"split": "training"}, "split"), ({"label": "tea"}, "label")]
)
def test_an_upload_with_a_bad_split_or_class_is_a_400(client, project, fields, field):
    upload = SimpleUploadedFile("a.png", png_bytes(seed=1))
    response = client.post(
        f"/api/projects/{project.pk}/images/", {"files": [upload], **fields}, format="multipart"
    )
    assert_json_error(response, 400)
    assert field in response.json()["detail"]
    assert not project.images.exists()


def test_more_files_than_the_server_accepts_is_a_400(client, project, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 2
    files = [SimpleUploadedFile(f"{n}.png", png_bytes(seed=n)) for n in range(3)]
    response = client.post(
        f"/api/projects/{project.pk}/images/", {"files": files}, format="multipart"
    )
    assert_json_error(response, 400)
    assert not project.images.exists()


def test_a_broken_multipart_body_is_a_400(client, project):
    response = client.post(
        f"/api/projects/{project.pk}/images/",
        data=b"--nope\r\nContent-Disposition: form-data; name=",
        content_type="multipart/form-data; boundary=nope",
    )
    assert_json_error(response, 400)


@pytest.mark.parametrize("caller", ["owner", "viewer"])
def test_a_method_an_endpoint_lacks_is_a_405_for_any_member(api_as, project, viewer, caller):
    client = api_as(project.created_by if caller == "owner" else viewer)
    assert_json_error(client.delete(f"/api/projects/{project.pk}/stats/"), 405)
    assert_json_error(client.put(f"/api/projects/{project.pk}/", {}, format="json"), 405)


def test_a_method_an_endpoint_lacks_is_still_a_404_for_an_outsider(api_as, project, outsider):
    assert_json_error(api_as(outsider).delete(f"/api/projects/{project.pk}/stats/"), 404)


def test_an_unknown_image_is_a_404(client):
    assert_json_error(client.get("/api/images/12345/"), 404)
    assert_json_error(client.patch("/api/images/12345/", {"split": "test"}, format="json"), 404)


@pytest.mark.parametrize("huge", ["9223372036854775808", "99999999999999999999999"])
@pytest.mark.parametrize(
    "url", ["/api/projects/{}/", "/api/images/{}/", "/api/training-runs/{}/?wait=1"]
)
def test_an_id_no_row_can_have_is_a_404_not_a_database_error(client, url, huge):
    assert_json_error(client.get(url.format(huge)), 404)


def test_the_largest_id_a_row_can_have_is_looked_up(client):
    assert_json_error(client.get("/api/projects/9223372036854775807/"), 404)


def test_an_unknown_api_url_is_a_json_404(client):
    assert_json_error(client.get("/api/nothing-here/"), 404)


def test_an_id_no_row_can_have_is_the_404_page_on_the_site(owner):
    web = Client()
    web.force_login(owner)
    response = web.get("/projects/9223372036854775808/")
    assert response.status_code == 404
    assert "Nothing here" in response.content.decode()


def test_a_form_encoded_body_is_a_415_where_the_api_reads_json(client):
    response = client.post(
        "/api/projects/", {"name": "Birds", "classes": ["robin", "wren"]}, format="multipart"
    )
    assert_json_error(response, 415)


@pytest.mark.parametrize("page_size", ["0", "-3", "many", "1e3"])
def test_a_page_size_that_is_not_a_positive_number_is_a_400(client, project, page_size):
    response = client.get(f"/api/projects/{project.pk}/images/?page_size={page_size}")
    assert_json_error(response, 400)
    assert "page_size" in response.json()["detail"]


def test_an_empty_query_parameter_counts_as_absent(client, project):
    ImageFactory(project=project)
    response = client.get(f"/api/projects/{project.pk}/images/?page=&page_size=&status=")
    assert response.status_code == 200
    assert response.json()["count"] == 1


@pytest.mark.parametrize("page", ["last", "0", "two"])
def test_a_page_that_is_not_a_page_number_is_a_404(client, project, page):
    assert_json_error(client.get(f"/api/projects/?page={page}"), 404)


def test_an_upload_with_an_empty_split_is_a_400_not_auto(client, project):
    upload = SimpleUploadedFile("a.png", png_bytes(seed=1))
    response = client.post(
        f"/api/projects/{project.pk}/images/", {"files": [upload], "split": ""}, format="multipart"
    )
    assert_json_error(response, 400)
    assert "split" in response.json()["detail"]
    assert not project.images.exists()
