"""The model's suggestions: which images show one, accepting one, accepting many, undoing."""

import pytest
from django.core.exceptions import ValidationError

from classifier import selectors, services
from classifier.models import ModelVersionStatus
from labeling.models import Annotation, Image, LabelStatus, Split
from labeling.services import (
    annotation_batch_undo,
    annotation_create,
    annotations_create_bulk,
    project_suggestions_set,
)
from tests.classifier.factories import ModelVersionFactory, PredictionFactory
from tests.classifier.suggestions_support import predicted_image
from tests.factories import ImageFactory, ProjectFactory, UserFactory


def test_a_new_project_shows_suggestions_except_on_the_test_split(project):
    assert project.suggestion_splits == {"train": True, "validation": True, "test": False}


def test_an_image_on_a_train_split_shows_the_active_versions_prediction(project):
    image = predicted_image(project, label="coffee", confidence=0.93)
    coffee = project.classes.get(name="coffee")

    assert selectors.image_suggestion(image=image) == {
        "label": "coffee",
        "label_class": coffee.pk,
        "confidence": 0.93,
    }


def test_a_test_image_is_labeled_blind_by_default(project):
    image = predicted_image(project, label="coffee", confidence=0.93, split=Split.TEST)

    assert selectors.image_suggestion(image=image) is None


def test_owners_choose_the_splits_that_show_suggestions(project):
    train = predicted_image(project, label="coffee", confidence=0.9)
    test = predicted_image(project, label="other", confidence=0.8, split=Split.TEST)
    project_suggestions_set(project=project, splits={"train": False, "test": True})

    shown = selectors.suggestions_for_images(project=project, images=[train, test])

    assert list(shown) == [test.pk]
    project.refresh_from_db()
    assert project.suggestion_splits == {"train": False, "validation": True, "test": True}


def test_only_the_active_versions_prediction_is_a_suggestion(project):
    image = ImageFactory(project=project)
    retired = ModelVersionFactory(project=project, version=1, status=ModelVersionStatus.RETIRED)
    PredictionFactory(model_version=retired, image=image)

    assert selectors.image_suggestion(image=image) is None


def test_accepting_a_suggestion_records_it_as_one(project, annotator):
    image = predicted_image(project, label="other", confidence=0.88)
    other = project.classes.get(name="other")

    annotation = services.suggestion_accept(image=image, user=annotator, label_class_id=other.pk)

    assert (annotation.label_class, annotation.from_suggestion) == (other, True)
    image.refresh_from_db()
    assert (image.label, image.label_status) == (other, LabelStatus.LABELED)


def test_choosing_a_class_is_not_a_suggestion_even_when_it_agrees(project, annotator):
    image = predicted_image(project, label="other", confidence=0.88)
    other = project.classes.get(name="other")

    annotation = annotation_create(image=image, user=annotator, label_class=other)

    assert annotation.from_suggestion is False


def test_a_suggestion_that_changed_meanwhile_is_refused(project, annotator):
    image = predicted_image(project, label="other", confidence=0.88)
    coffee = project.classes.get(name="coffee")

    with pytest.raises(ValidationError, match="now other"):
        services.suggestion_accept(image=image, user=annotator, label_class_id=coffee.pk)
    assert not Annotation.objects.exists()


def test_a_blind_image_has_no_suggestion_to_accept(project, annotator):
    image = predicted_image(project, label="other", confidence=0.88, split=Split.TEST)
    other = project.classes.get(name="other")

    with pytest.raises(ValidationError, match="no suggestion"):
        services.suggestion_accept(image=image, user=annotator, label_class_id=other.pk)


def test_relabeling_after_accepting_clears_the_mark(project, annotator):
    image = predicted_image(project, label="other", confidence=0.88)
    coffee, other = project.classes.get(name="coffee"), project.classes.get(name="other")
    services.suggestion_accept(image=image, user=annotator, label_class_id=other.pk)

    annotation = annotation_create(image=image, user=annotator, label_class=coffee)

    assert (annotation.label_class, annotation.from_suggestion) == (coffee, False)


# --- In bulk ----------------------------------------------------------------------------------


def accept(project, user, *, min_confidence=None, images=None, asked=None):
    return services.suggestions_accept_bulk(
        project=project,
        user=user,
        images=Image.objects.all() if images is None else images,
        min_confidence=min_confidence,
        asked=asked,
    )


def test_bulk_accept_labels_every_suggestion_at_or_above_the_threshold(project, annotator):
    sure = predicted_image(project, label="coffee", confidence=0.97)
    exactly = predicted_image(project, label="other", confidence=0.95)
    unsure = predicted_image(project, label="coffee", confidence=0.6)

    result = accept(project, annotator, min_confidence=0.95)

    assert (result.accepted, result.skipped) == (2, 0)
    labels = dict(
        Annotation.objects.filter(user=annotator).values_list("image_id", "label_class__name")
    )
    assert labels == {sure.pk: "coffee", exactly.pk: "other"}
    assert set(Annotation.objects.values_list("from_suggestion", flat=True)) == {True}
    assert not Annotation.objects.filter(image=unsure).exists()


def test_bulk_accept_leaves_the_users_own_labels_and_blind_splits_alone(project, annotator):
    mine = predicted_image(project, label="coffee", confidence=0.99)
    annotation_create(image=mine, user=annotator, label_class=project.classes.get(name="other"))
    predicted_image(project, label="coffee", confidence=0.99, split=Split.TEST)
    fresh = predicted_image(project, label="coffee", confidence=0.99)

    result = accept(project, annotator, min_confidence=0.9)

    assert (result.accepted, result.skipped) == (1, 2)
    assert Annotation.objects.get(image=mine).label_class.name == "other"
    assert Annotation.objects.get(image=fresh).from_suggestion is True


def test_bulk_accept_of_named_images_skips_those_it_cannot_accept(project, annotator):
    predicted = predicted_image(project, label="coffee", confidence=0.7)
    unpredicted = ImageFactory(project=project)
    elsewhere = predicted_image(ProjectFactory(), label="coffee", confidence=0.99)
    ids = [predicted.pk, unpredicted.pk, elsewhere.pk]

    result = accept(project, annotator, images=Image.objects.filter(pk__in=ids), asked=3)

    assert (result.accepted, result.skipped) == (1, 2)
    assert list(Annotation.objects.values_list("image_id", flat=True)) == [predicted.pk]


def test_bulk_accept_is_undone_as_one_action(project, annotator):
    images = [predicted_image(project, label="coffee", confidence=0.99) for _ in range(3)]
    result = accept(project, annotator, min_confidence=0.9)

    undone, kept = annotation_batch_undo(batch=result.batch, user=annotator)

    assert (undone, kept) == (3, 0)
    assert not Annotation.objects.exists()
    statuses = Image.objects.filter(pk__in=[i.pk for i in images]).values_list(
        "label_status", flat=True
    )
    assert set(statuses) == {LabelStatus.UNLABELED}


def test_undo_keeps_the_labels_given_again_since(project, annotator):
    _first, second = (predicted_image(project, label="coffee", confidence=0.99) for _ in range(2))
    result = accept(project, annotator, min_confidence=0.9)
    annotation_create(image=second, user=annotator, label_class=project.classes.get(name="other"))

    assert annotation_batch_undo(batch=result.batch, user=annotator) == (1, 1)
    assert list(Annotation.objects.values_list("image_id", "label_class__name")) == [
        (second.pk, "other")
    ]
    assert annotation_batch_undo(batch=result.batch, user=annotator) == (0, 0)


def test_only_the_author_undoes_a_bulk_action(project, annotator, owner):
    predicted_image(project, label="coffee", confidence=0.99)
    result = accept(project, annotator, min_confidence=0.9)

    with pytest.raises(ValidationError):
        annotation_batch_undo(batch=result.batch, user=owner)
    assert Annotation.objects.count() == 1


def test_undoing_a_grid_label_restores_the_class_the_user_had_given(project, annotator):
    coffee, other = project.classes.get(name="coffee"), project.classes.get(name="other")
    relabeled, fresh = ImageFactory(project=project), ImageFactory(project=project)
    annotation_create(image=relabeled, user=annotator, label_class=coffee)
    batch = annotations_create_bulk(
        image_ids=[relabeled.pk, fresh.pk], user=annotator, label_class=other
    )

    assert annotation_batch_undo(batch=batch, user=annotator) == (2, 0)
    assert list(Annotation.objects.values_list("image_id", "label_class")) == [
        (relabeled.pk, coffee.pk)
    ]


def test_other_users_annotations_are_untouched_by_an_undo(project, annotator, owner):
    image = predicted_image(project, label="coffee", confidence=0.99)
    result = accept(project, annotator, min_confidence=0.9)
    annotation_create(image=image, user=owner, label_class=project.classes.get(name="coffee"))

    annotation_batch_undo(batch=result.batch, user=annotator)

    assert list(Annotation.objects.values_list("user__username", flat=True)) == [owner.username]


def test_accepting_again_accepts_nothing_new(project):
    user = UserFactory()
    predicted_image(project, label="coffee", confidence=0.99)
    accept(project, user, min_confidence=0.9)

    assert accept(project, user, min_confidence=0.9).accepted == 0


def test_bulk_accept_follows_consensus_when_two_annotations_are_needed(project, annotator, owner):
    project.annotations_per_image = 2
    project.save()
    agreed = predicted_image(project, label="coffee", confidence=0.99)
    disputed = predicted_image(project, label="coffee", confidence=0.99)
    annotation_create(image=agreed, user=owner, label_class=project.classes.get(name="coffee"))
    annotation_create(image=disputed, user=owner, label_class=project.classes.get(name="other"))

    accept(project, annotator, min_confidence=0.9)

    agreed.refresh_from_db()
    disputed.refresh_from_db()
    assert (agreed.label.name, agreed.label_status) == ("coffee", LabelStatus.LABELED)
    assert (disputed.label, disputed.label_status) == (None, LabelStatus.CONFLICT)


@pytest.mark.parametrize("size", [3, 30])
def test_a_bulk_accept_and_its_undo_cost_the_same_queries_for_3_or_30_images(
    project, annotator, django_assert_num_queries, size
):
    for _ in range(size):
        predicted_image(project, label="coffee", confidence=0.99)
    # A fixed number per chunk of BULK_CHUNK images (savepoints of the nested services
    # included): nothing per image.
    with django_assert_num_queries(14):
        result = accept(project, annotator, min_confidence=0.9)
    with django_assert_num_queries(11):
        assert annotation_batch_undo(batch=result.batch, user=annotator) == (size, 0)
