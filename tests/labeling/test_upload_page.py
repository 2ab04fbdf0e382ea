"""The upload page's server side: one batch of files per request, a verdict per file."""

import io
import zipfile

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from labeling.models import Annotation, Image, Split
from tests.support.upload_corpus import jpeg, png, text_named_jpg


def upload(client, project, files, *, accept="application/json", **options):
    data = {"split": "auto", "label": "", **options}
    data["files"] = [SimpleUploadedFile(name, content) for name, content in files]
    return client.post(
        reverse("labeling:project-upload", args=[project.pk]), data, headers={"Accept": accept}
    )


def test_a_batch_answers_with_each_files_verdict(client, project, annotator):
    client.force_login(annotator)
    first = upload(client, project, [("cup.jpg", jpeg(seed=1))])
    response = upload(
        client,
        project,
        [("again.jpg", jpeg(seed=1)), ("notes.jpg", text_named_jpg()), ("mug.png", png(seed=2))],
    )
    assert response.status_code == 201
    verdicts = response.json()
    original = Image.objects.get(original_name="cup.jpg")
    assert first.json()["created"][0]["id"] == original.pk
    assert [item["original_name"] for item in verdicts["created"]] == ["mug.png"]
    assert verdicts["duplicates"] == [
        {
            "name": "again.jpg",
            "of": {
                "id": original.pk,
                "original_name": "cup.jpg",
                "split": original.split,
                "label": None,
                "width": original.width,
                "height": original.height,
                "url": reverse("labeling:image-file", args=[original.pk]),
                "thumbnail_url": reverse("labeling:image-thumbnail", args=[original.pk]),
                "page_url": reverse("labeling:image-detail", args=[original.pk]),
            },
        }
    ]
    assert verdicts["rejected"][0]["name"] == "notes.jpg"
    assert "text" in verdicts["rejected"][0]["error"].lower()


def test_a_batch_of_only_duplicates_answers_200(client, project, annotator):
    client.force_login(annotator)
    upload(client, project, [("cup.jpg", jpeg(seed=1))])
    assert upload(client, project, [("cup-again.jpg", jpeg(seed=1))]).status_code == 200


def test_the_chosen_split_and_label_apply_to_every_stored_image(client, project, annotator):
    other = project.classes.get(name="other")
    client.force_login(annotator)
    response = upload(
        client,
        project,
        [("a.jpg", jpeg(seed=3)), ("b.jpg", jpeg(seed=4))],
        split=Split.TEST,
        label=other.pk,
    )
    created = response.json()["created"]
    assert {(item["split"], item["label"]) for item in created} == {("test", "other")}
    assert set(Annotation.objects.values_list("user", "label_class")) == {(annotator.pk, other.pk)}
    assert Annotation.objects.count() == 2


def test_a_zip_is_expanded(client, project, annotator):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("coffee/one.jpg", jpeg(seed=5))
        bundle.writestr("coffee/two.png", png(seed=6))
    client.force_login(annotator)
    response = upload(client, project, [("photos.zip", archive.getvalue())])
    assert sorted(item["original_name"] for item in response.json()["created"]) == [
        "coffee/one.jpg",
        "coffee/two.png",
    ]


def test_a_batch_without_files_is_a_400(client, project, annotator):
    client.force_login(annotator)
    response = upload(client, project, [])
    assert response.status_code == 400
    assert response.json() == {"detail": "Choose at least one file."}


def test_a_label_of_another_project_is_a_400(client, project, annotator):
    client.force_login(annotator)
    response = upload(client, project, [("a.jpg", jpeg(seed=7))], label=999999)
    assert response.status_code == 400
    assert not Image.objects.exists()


def test_a_plain_form_post_renders_the_verdict_table(client, project, annotator):
    client.force_login(annotator)
    response = upload(
        client,
        project,
        [("cup.jpg", jpeg(seed=8)), ("notes.jpg", text_named_jpg())],
        accept="text/html,application/xhtml+xml",
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'class="verdict verdict-created"' in html
    assert 'class="verdict verdict-rejected"' in html
    assert "notes.jpg" in html
