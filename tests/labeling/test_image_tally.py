"""The kept image counts (labeling.models.ImageTally): on PostgreSQL the images table's
triggers keep them, whoever changes the images; the selectors read them instead of counting.
(On SQLite the selectors count; these tests need PostgreSQL: DATABASE_URL=postgres://...)"""

import pytest
from django.db import connection
from django.db.models import Count

from labeling.models import Image, ImageTally, LabelStatus, Split
from labeling.selectors import project_split_progress
from labeling.selectors.projects import project_counts, project_member_contributions
from labeling.services import annotation_create, annotation_delete, image_review, images_split_set
from tests.factories import ImageFactory, ProjectFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the triggers are PostgreSQL's"),
]


def recounted(project) -> dict:
    return {
        (row["split"], row["label_status"], row["label_id"] or 0): row["count"]
        for row in Image.objects.filter(project=project)
        .values("split", "label_status", "label_id")
        .annotate(count=Count("pk"))
    }


def kept(project) -> dict:
    return {
        (row.split, row.label_status, row.label_key): row.count
        for row in ImageTally.objects.filter(project_id=project.pk)
        if row.count
    }


def test_the_kept_counts_follow_every_kind_of_change(project, owner, annotator):
    coffee, other = project.classes.get(name="coffee"), project.classes.get(name="other")
    images = ImageFactory.create_batch(6, project=project, split=Split.TRAIN)
    assert kept(project) == recounted(project)

    annotation_create(image=images[0], user=annotator, label_class=coffee)
    annotation_create(image=images[1], user=annotator, label_class=other)
    assert kept(project) == recounted(project)

    images_split_set(image_ids=[images[0].pk, images[2].pk], split=Split.TEST)
    image_review(image=images[3], label_class=other)
    annotation_delete(image=images[1], user=annotator)
    Image.objects.filter(pk=images[4].pk).update(label_status=LabelStatus.CONFLICT)
    images[5].delete()
    Image.objects.bulk_create(
        [ImageFactory.build(project=project, sha256=f"{n:064x}") for n in range(3)]
    )
    assert kept(project) == recounted(project)

    coffee.delete()  # its images keep their status, without a class
    assert {key[2] for key in kept(project)} <= {0, other.pk}
    assert sum(kept(project).values()) == Image.objects.filter(project=project).count()


def test_the_selectors_read_the_kept_counts(project, annotator, django_assert_num_queries):
    coffee = project.classes.get(name="coffee")
    images = ImageFactory.create_batch(3, project=project, split=Split.TRAIN)
    annotation_create(image=images[0], user=annotator, label_class=coffee)

    with django_assert_num_queries(1):
        progress = project_split_progress(project=project)
    assert progress[Split.TRAIN] == {"labeled": 1, "total": 3}
    assert {
        (c["split"], c["label"], c["status"], c["count"]) for c in project_counts(project=project)
    } == {
        ("train", "coffee", "labeled", 1),
        ("train", None, "unlabeled", 2),
    }


def test_deleting_a_project_leaves_no_counts_behind(owner):
    project = ProjectFactory(created_by=owner)
    ImageFactory.create_batch(2, project=project)
    project_id = project.pk

    project.delete()

    assert not ImageTally.objects.filter(project_id=project_id).exclude(count=0).exists()


def member_figures(project) -> dict:
    return {
        member.user.username: (member.annotation_count, member.upload_count)
        for member in project_member_contributions(project=project)
    }


def test_the_members_annotations_and_uploads_are_kept(project, owner, annotator):
    coffee, other = project.classes.get(name="coffee"), project.classes.get(name="other")
    uploads = ImageFactory.create_batch(3, project=project, uploaded_by=annotator)
    ImageFactory(project=project, uploaded_by=owner)
    annotation_create(image=uploads[0], user=annotator, label_class=coffee)
    annotation_create(image=uploads[1], user=annotator, label_class=coffee)
    annotation_create(image=uploads[1], user=annotator, label_class=other)  # changed, not new
    annotation_create(image=uploads[0], user=owner, label_class=coffee)
    annotation_delete(image=uploads[0], user=annotator)
    uploads[2].delete()

    assert member_figures(project) == {annotator.username: (1, 2), owner.username: (1, 1)}
    members = project_member_contributions(project=project)
    assert all(member.last_annotated_at is not None for member in members)
