"""manage.py import_images: ImageFolder trees into a project."""

from collections import Counter
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from labeling.models import Annotation, Image, LabelStatus, Role, Split
from tests.factories import MembershipFactory, ProjectFactory, UserFactory
from tests.support import coffee_or_not
from tests.support import upload_corpus as corpus

pytestmark = pytest.mark.usefixtures("media_root")


def import_images(*args, **options) -> str:
    out = StringIO()
    call_command("import_images", *map(str, args), stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


def write_tree(tmp_path: Path, files: dict[str, bytes]) -> Path:
    root = tmp_path / "tree"  # beside the test's media folder, not around it
    for relative, data in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def test_importing_coffee_or_not_stores_every_photo_with_its_label(project, owner):
    photos = coffee_or_not.data_dir_or_not_available()
    output = import_images(project.pk, photos)

    images = Image.objects.filter(project=project)
    assert images.count() == 822
    assert Counter(images.values_list("label__name", flat=True)) == {"coffee": 340, "other": 482}
    assert set(images.values_list("label_status", flat=True)) == {LabelStatus.LABELED}
    assert set(images.values_list("uploaded_by", flat=True)) == {owner.pk}
    assert Annotation.objects.filter(image__project=project, user=owner).count() == 822
    for name, total in (("coffee", 340), ("other", 482)):
        counts = Counter(images.filter(label__name=name).values_list("split", flat=True))
        for split, percent in project.split_ratios.items():
            assert abs(counts[split] - total * percent / 100) < 1, (name, counts)
    assert "stored         822" in output
    assert "rejected         0" in output
    assert "skipped files outside a class folder: 1" in output  # SOURCES.md

    again = import_images(project.pk, photos)
    assert "duplicates     822" in again
    assert images.count() == 822


def test_a_split_layout_puts_images_in_their_split_folders(project, tmp_path):
    root = write_tree(
        tmp_path,
        {
            "train/Coffee/a.jpg": corpus.jpeg(seed=1),
            "val/other/b.png": corpus.png(seed=2),
            "test/COFFEE/nested/c.jpg": corpus.jpeg(seed=3),
        },
    )
    import_images(project.name, root)
    assert dict(Image.objects.values_list("original_name", "split")) == {
        "train/Coffee/a.jpg": Split.TRAIN,
        "val/other/b.png": Split.VALIDATION,
        "test/COFFEE/nested/c.jpg": Split.TEST,
    }
    assert dict(Image.objects.values_list("original_name", "label__name")) == {
        "train/Coffee/a.jpg": "coffee",
        "val/other/b.png": "other",
        "test/COFFEE/nested/c.jpg": "coffee",
    }


def test_the_split_option_overrides_the_folders(project, tmp_path):
    root = write_tree(
        tmp_path,
        {"train/coffee/a.jpg": corpus.jpeg(seed=1), "train/other/b.jpg": corpus.jpeg(seed=2)},
    )
    import_images(project.pk, root, split="test")
    assert set(Image.objects.values_list("split", flat=True)) == {Split.TEST}


def test_unknown_class_folders_are_reported_and_skipped(project, tmp_path):
    root = write_tree(
        tmp_path,
        {
            "coffee/a.jpg": corpus.jpeg(seed=1),
            "dogs/rex.jpg": corpus.jpeg(seed=2),
            "dogs/fido.jpg": corpus.jpeg(seed=3),
        },
    )
    output = import_images(project.pk, root)
    assert list(Image.objects.values_list("original_name", flat=True)) == ["coffee/a.jpg"]
    assert "skipped folder dogs/ (2 files): not a class of this project" in output


def test_rejected_files_are_listed_with_their_reasons(project, tmp_path):
    root = write_tree(
        tmp_path,
        {
            "coffee/good.jpg": corpus.jpeg(seed=1),
            "coffee/broken.jpg": corpus.truncated_jpeg(),
            "other/notes.jpg": corpus.text_named_jpg(),
            "other/.DS_Store": b"\x00\x00\x00\x01Bud1",
        },
    )
    output = import_images(project.pk, root)
    assert "stored           1" in output
    assert "rejected         2" in output
    assert "coffee/broken.jpg: file is truncated or corrupt" in output
    assert "other/notes.jpg: not a readable image (looks like text)" in output


def test_the_named_user_is_the_uploader_and_annotator(project, annotator, tmp_path):
    root = write_tree(tmp_path, {"other/a.jpg": corpus.jpeg(seed=1)})
    import_images(project.pk, root, user=annotator.username)
    image = Image.objects.get()
    assert image.uploaded_by == annotator
    assert list(image.annotations.values_list("user", "label_class__name")) == [
        (annotator.pk, "other")
    ]


def test_a_viewer_cannot_import(project, viewer, tmp_path):
    root = write_tree(tmp_path, {"other/a.jpg": corpus.jpeg(seed=1)})
    with pytest.raises(CommandError, match="not an owner or annotator"):
        import_images(project.pk, root, user=viewer.username)


def test_the_default_user_is_the_projects_first_owner(db, tmp_path):
    first_owner = UserFactory()
    project = ProjectFactory(created_by=first_owner)
    MembershipFactory(project=project, role=Role.OWNER)
    root = write_tree(tmp_path, {"coffee/a.jpg": corpus.jpeg(seed=1)})
    import_images(project.pk, root)
    assert Image.objects.get().uploaded_by == first_owner


def test_an_unknown_project_is_an_error(db, tmp_path):
    with pytest.raises(CommandError, match="No project with id or name 'Nope'"):
        import_images("Nope", tmp_path)


def test_two_projects_with_the_same_name_need_the_id(owner, tmp_path):
    ProjectFactory(name="Twin", created_by=owner)
    ProjectFactory(name="Twin")  # another owner: names are unique per owner only
    with pytest.raises(CommandError, match="2 projects are named 'Twin'"):
        import_images("Twin", tmp_path)


def test_a_tree_without_class_folders_is_an_error(project, tmp_path):
    root = write_tree(tmp_path, {"cats/a.jpg": corpus.jpeg(seed=1)})
    with pytest.raises(CommandError, match=r"No class folders \(coffee, other\)"):
        import_images(project.pk, root)
