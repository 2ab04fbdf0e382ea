"""Exports: the ImageFolder zip, the labels as CSV and JSON, and export_dataset."""

import csv
import io
import json
import zipfile
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from labeling.export import (
    dataset_zip_export,
    labels_csv_export,
    labels_json_export,
    project_export,
)
from labeling.ingest import IncomingFile, image_ingest
from labeling.models import LabelClass, Split
from labeling.services import annotation_create
from tests.support import upload_corpus as corpus

pytestmark = pytest.mark.usefixtures("media_root")


def ingest_one(project, user, name, data, *, split, label=None):
    [image] = image_ingest(
        project=project,
        uploaded_by=user,
        files=[IncomingFile(name, io.BytesIO(data))],
        split=split,
        label=label,
    ).created
    return image


@pytest.fixture
def dataset(project, owner, annotator):
    """Two labeled coffee images, one labeled other, one unlabeled and one in conflict."""
    coffee, other = project.classes.all()
    images = {
        "cup": ingest_one(project, owner, "cup.jpg", corpus.jpeg(seed=1), split="train",
                          label=coffee),
        "mug": ingest_one(project, owner, "holiday/mug.png", corpus.png(seed=2), split="test",
                          label=coffee),
        "tree": ingest_one(project, owner, "tree.webp", corpus.webp(seed=3), split="validation",
                           label=other),
        "unlabeled": ingest_one(project, owner, "what.jpg", corpus.jpeg(seed=4), split="train"),
    }  # fmt: skip
    annotation_create(image=images["cup"], user=annotator, label_class=coffee)
    project.annotations_per_image = 2
    project.save()
    conflict = ingest_one(project, owner, "either.jpg", corpus.jpeg(seed=5), split="train",
                          label=coffee)  # fmt: skip
    annotation_create(image=conflict, user=annotator, label_class=other)
    images["conflict"] = conflict
    for image in images.values():
        image.refresh_from_db()
    return images


def zip_entries(export) -> dict[str, bytes]:
    archive = zipfile.ZipFile(io.BytesIO(b"".join(export.chunks)))
    assert archive.testzip() is None
    # The images (the split x class folders: tests/labeling/api/test_export.py).
    return {name: archive.read(name) for name in archive.namelist() if not name.endswith("/")}


def stored(image) -> bytes:
    with image.file.open("rb") as stream:
        return stream.read()


def test_the_zip_holds_labeled_images_as_split_class_file(project, dataset):
    entries = zip_entries(dataset_zip_export(project=project))
    cup, mug, tree = dataset["cup"], dataset["mug"], dataset["tree"]
    assert list(entries) == [
        f"train/coffee/{cup.pk}-cup.jpg",
        f"validation/other/{tree.pk}-tree.webp",
        f"test/coffee/{mug.pk}-mug.png",
    ]
    assert entries[f"train/coffee/{cup.pk}-cup.jpg"] == stored(cup)
    assert entries[f"test/coffee/{mug.pk}-mug.png"] == stored(mug)


def test_zip_names_are_safe_and_unique(project, owner):
    label = LabelClass.objects.create(project=project, name="../Ünsafe/ class", key="3")
    names = ["../../etc/passwd.jpg", "C:\\Users\\me\\café ☕.jpg", "same.jpg", "same.jpg", ".jpg"]
    ids = [
        ingest_one(project, owner, name, corpus.jpeg(seed=seed), split=Split.TRAIN, label=label).pk
        for seed, name in enumerate(names)
    ]

    paths = list(zip_entries(dataset_zip_export(project=project)))

    assert len(set(paths)) == len(names)
    for path in paths:
        parts = path.split("/")
        assert len(parts) == 3 and parts[:2] == ["train", "Unsafe_class"], path
        assert all(part not in ("", ".", "..") for part in parts)
        assert path.isascii() and "\\" not in path and ":" not in path
    assert [path.split("/")[2] for path in paths] == [
        f"{ids[0]}-passwd.jpg",
        f"{ids[1]}-cafe.jpg",
        f"{ids[2]}-same.jpg",
        f"{ids[3]}-same.jpg",
        f"{ids[4]}.jpg",
    ]


def test_an_image_whose_file_is_lost_is_left_out_of_a_valid_zip(project, dataset):
    dataset["cup"].file.delete(save=False)
    entries = zip_entries(dataset_zip_export(project=project))
    assert len(entries) == 2
    assert not any(name.startswith("train/") for name in entries)


def test_exports_query_nothing_until_they_are_read(project, dataset, django_assert_num_queries):
    with django_assert_num_queries(0):
        exports = [
            dataset_zip_export(project=project),
            labels_csv_export(project=project),
            labels_json_export(project=project),
        ]
    assert [(e.filename, e.content_type) for e in exports] == [
        ("coffee-dataset.zip", "application/zip"),
        ("coffee-labels.csv", "text/csv; charset=utf-8"),
        ("coffee-labels.json", "application/json"),
    ]


def test_the_zip_streams_in_pieces_one_image_at_a_time(project, dataset):
    chunks = dataset_zip_export(project=project).chunks
    first = next(chunks)
    assert first.startswith(b"PK\x03\x04")  # a local file header: streaming has begun
    assert len(list(chunks)) > 3


def test_the_csv_has_a_row_per_image_with_its_annotations(project, dataset, owner, annotator):
    text = b"".join(labels_csv_export(project=project).chunks).decode("utf-8")
    rows = {int(row["image_id"]): row for row in csv.DictReader(io.StringIO(text))}

    cup = rows[dataset["cup"].pk]
    assert cup["original_name"] == "cup.jpg"
    assert cup["sha256"] == dataset["cup"].sha256
    assert (cup["split"], cup["label"], cup["label_status"]) == ("train", "coffee", "labeled")
    assert cup["annotations"] == f"{annotator.username}:coffee; {owner.username}:coffee"
    assert cup["zip_path"] == f"train/coffee/{dataset['cup'].pk}-cup.jpg"
    unlabeled = rows[dataset["unlabeled"].pk]
    assert (unlabeled["label"], unlabeled["label_status"], unlabeled["annotations"]) == (
        "",
        "unlabeled",
        "",
    )
    conflict = rows[dataset["conflict"].pk]
    assert (conflict["label"], conflict["label_status"]) == ("", "conflict")
    assert len(rows) == 5


def test_the_json_has_the_project_classes_and_every_image(project, dataset, owner, annotator):
    document = json.loads(b"".join(labels_json_export(project=project).chunks))
    assert document["project"]["name"] == "Coffee"
    assert [c["name"] for c in document["classes"]] == ["coffee", "other"]
    images = {image["id"]: image for image in document["images"]}
    assert len(images) == 5
    conflict = images[dataset["conflict"].pk]
    assert (conflict["label"], conflict["label_status"]) == (None, "conflict")
    assert [(a["user"], a["label"]) for a in conflict["annotations"]] == [
        (annotator.username, "other"),
        (owner.username, "coffee"),
    ]
    assert images[dataset["tree"].pk]["sha256"] == dataset["tree"].sha256


def test_the_json_of_an_empty_project_is_valid(project):
    document = json.loads(b"".join(labels_json_export(project=project).chunks))
    assert document["images"] == []


def test_the_json_streams_many_images_in_chunks(project, owner, monkeypatch):
    import labeling.export

    monkeypatch.setattr(labeling.export, "ROWS_PER_QUERY", 2)
    image_ingest(
        project=project,
        uploaded_by=owner,
        files=[IncomingFile(f"{n}.png", io.BytesIO(corpus.png(seed=n))) for n in range(5)],
    )
    chunks = list(labels_json_export(project=project).chunks)
    assert len(chunks) >= 4
    assert len(json.loads(b"".join(chunks))["images"]) == 5


def test_an_unknown_format_is_refused(project):
    with pytest.raises(ValidationError):
        project_export(project=project, format="xml")


def test_export_dataset_writes_the_format_of_the_extension(project, dataset, tmp_path):
    tmp_path = tmp_path / "exports"
    tmp_path.mkdir()
    out = StringIO()
    call_command("export_dataset", str(project.pk), str(tmp_path / "coffee.zip"), stdout=out)
    call_command("export_dataset", "Coffee", str(tmp_path / "labels.csv"), stdout=out)
    call_command(
        "export_dataset", "Coffee", str(tmp_path / "labels.txt"), format="json", stdout=out
    )
    entries = zipfile.ZipFile(tmp_path / "coffee.zip").namelist()
    assert len([name for name in entries if not name.endswith("/")]) == 3
    assert (tmp_path / "labels.csv").read_text().startswith("image_id,original_name,sha256,")
    assert len(json.loads((tmp_path / "labels.txt").read_text())["images"]) == 5
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "coffee.zip",
        "labels.csv",
        "labels.txt",
    ]  # no partial files left behind


def test_export_dataset_needs_a_format_it_can_tell(project, tmp_path):
    with pytest.raises(CommandError, match="Cannot tell the format"):
        call_command("export_dataset", str(project.pk), str(tmp_path / "labels.txt"))
