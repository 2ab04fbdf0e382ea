import threading

import pytest
from django.db import connection

from labeling.models import Annotation, LabelStatus, Role
from labeling.services import annotation_create, annotation_delete, image_review
from tests.factories import ImageFactory, MembershipFactory, UserFactory


def test_one_annotation_labels_the_image_when_one_is_required(project, owner):
    image = ImageFactory(project=project)
    coffee = project.classes.get(name="coffee")
    annotation_create(image=image, user=owner, label_class=coffee)
    image.refresh_from_db()
    assert (image.label, image.label_status) == (coffee, LabelStatus.LABELED)


def test_labeling_again_replaces_the_users_annotation(project, owner):
    image = ImageFactory(project=project)
    coffee, other = project.classes.all()
    annotation_create(image=image, user=owner, label_class=coffee)
    annotation_create(image=image, user=owner, label_class=other)
    labels = Annotation.objects.filter(image=image).values_list("label_class__name", flat=True)
    assert list(labels) == ["other"]
    image.refresh_from_db()
    assert image.label == other


def test_a_tie_between_annotators_is_a_conflict(project, owner, annotator):
    project.annotations_per_image = 2
    project.save()
    image = ImageFactory(project=project)
    coffee, other = project.classes.all()
    annotation_create(image=image, user=owner, label_class=coffee)
    image.refresh_from_db()
    assert image.label_status == LabelStatus.UNLABELED
    annotation_create(image=image, user=annotator, label_class=other)
    image.refresh_from_db()
    assert (image.label, image.label_status) == (None, LabelStatus.CONFLICT)


def test_an_owner_review_settles_a_conflict_for_good(project, owner, annotator):
    project.annotations_per_image = 2
    project.save()
    image = ImageFactory(project=project)
    coffee, other = project.classes.all()
    annotation_create(image=image, user=owner, label_class=coffee)
    annotation_create(image=image, user=annotator, label_class=other)
    image_review(image=image, label_class=other)
    annotation_create(image=image, user=owner, label_class=coffee)
    image.refresh_from_db()
    assert (image.label, image.label_status) == (other, LabelStatus.LABELED)


def test_undo_returns_the_image_to_unlabeled(project, owner):
    image = ImageFactory(project=project)
    annotation_create(image=image, user=owner, label_class=project.classes.first())
    annotation_delete(image=image, user=owner)
    image.refresh_from_db()
    assert (image.label, image.label_status) == (None, LabelStatus.UNLABELED)


@pytest.mark.django_db(transaction=True)
def test_two_annotators_at_the_same_moment_never_lose_a_label(project):
    project.annotations_per_image = 2
    project.save()
    image = ImageFactory(project=project)
    coffee = project.classes.get(name="coffee")
    users = [
        MembershipFactory(project=project, user=UserFactory(), role=Role.ANNOTATOR).user
        for _ in range(2)
    ]
    barrier = threading.Barrier(2)
    errors = []

    def label(user):
        try:
            barrier.wait()
            annotation_create(image=image.pk, user=user, label_class=coffee)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=label, args=(u,)) for u in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    image.refresh_from_db()
    assert Annotation.objects.filter(image=image).count() == 2
    assert (image.label, image.label_status) == (coffee, LabelStatus.LABELED)
