"""The classifier's reads that labeling's pages show: the labeling queue, most uncertain first
once a model exists when the project orders it by least confidence
(classifier.selectors.images_to_label_next, built on labeling's plain queue), and the
gallery's prediction filters and badges (classifier.image_filters)."""

import pytest

from classifier.image_filters import (
    AGREE,
    DISAGREE,
    PredictionFilterForm,
    images_filtered_by_prediction,
    images_with_active_prediction,
)
from classifier.models import ModelVersionStatus, Prediction
from classifier.selectors import images_to_label_next
from classifier.worker.labeling_queue import labeling_queue_refresh
from labeling import selectors as labeling_selectors
from labeling.models import LabelStatus, QueueStrategy, Split
from labeling.services import annotation_create
from tests.classifier.factories import ModelVersionFactory
from tests.factories import ImageFactory
from tests.support.labeled_images import labeled_image

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def least_confidence_first(project):
    """These tests are about the least-confidence order, which new projects no longer start
    with (warm start picks at random until the model has seen enough labels)."""
    project.queue_strategy = QueueStrategy.LEAST_CONFIDENCE
    project.save(update_fields=["queue_strategy"])


@pytest.fixture
def active(project):
    """The project's active version (its predictions are made by hand here)."""
    return ModelVersionFactory(project=project, version=1, status=ModelVersionStatus.ACTIVE)


def predict(image, version, *, confidence: float, label=None) -> Prediction:
    """A prediction as a prediction job writes it, with the queue reordered after it."""
    prediction = Prediction.objects.create(
        image=image, model_version=version, label=label, confidence=confidence, probabilities={}
    )
    labeling_queue_refresh(project_id=image.project_id)
    return prediction


def test_the_labeling_queue_offers_the_least_certain_image_first(project, active, annotator):
    sure, unsure, unpredicted = ImageFactory.create_batch(3, project=project)
    predict(sure, active, confidence=0.99)
    predict(unsure, active, confidence=0.51)

    queue = images_to_label_next(project=project, user=annotator, limit=10)

    assert queue == [unsure, sure, unpredicted]


def test_a_retired_versions_predictions_do_not_order_the_queue(project, active, annotator):
    first, second = ImageFactory.create_batch(2, project=project)
    retired = ModelVersionFactory(project=project, version=2, status=ModelVersionStatus.RETIRED)
    predict(second, retired, confidence=0.1)

    assert images_to_label_next(project=project, user=annotator) == [first, second]


def test_the_labeling_queue_never_offers_an_image_the_user_labeled(project, active, annotator):
    unsure, other = ImageFactory.create_batch(2, project=project)
    predict(unsure, active, confidence=0.5)
    annotation_create(image=unsure, user=annotator, label_class=project.classes.first())

    assert images_to_label_next(project=project, user=annotator) == [other]


def test_without_a_model_the_labeling_queue_is_oldest_first(project, annotator):
    first, second, third = ImageFactory.create_batch(3, project=project)

    queue = images_to_label_next(project=project, user=annotator, limit=10)

    assert queue == [first, second, third]
    assert queue == list(
        labeling_selectors.images_needing_label_by(project=project, user=annotator)
    )


def test_the_next_images_leave_out_the_ones_asked_to_and_stop_at_the_limit(
    project, active, annotator
):
    images = ImageFactory.create_batch(5, project=project)

    queue = images_to_label_next(
        project=project, user=annotator, exclude_ids={images[0].pk, images[2].pk}, limit=2
    )

    assert queue == [images[1], images[3]]


@pytest.fixture
def predicted(project, active):
    """Three images the active version predicted: one agreeing with its label, one not, and
    one unlabeled."""
    coffee, other = project.classes.get(name="coffee"), project.classes.get(name="other")
    agree = labeled_image(project, label="coffee", split=Split.TRAIN, seed=7001)
    disagree = labeled_image(project, label="coffee", split=Split.TRAIN, seed=7003)
    fresh = ImageFactory(project=project)
    predict(agree, active, label=coffee, confidence=0.9)
    predict(disagree, active, label=other, confidence=0.6)
    predict(fresh, active, label=other, confidence=0.7)
    assert fresh.label_status == LabelStatus.UNLABELED
    return {"agree": agree, "disagree": disagree, "fresh": fresh, "other": other}


def filtered(project, **filters) -> set[str]:
    images = images_filtered_by_prediction(
        labeling_selectors.images_filtered(project=project, filters=filters, user=None),
        filters=filters,
    )
    return set(images.values_list("original_name", flat=True))


def test_the_gallery_filters_by_predicted_class_confidence_and_disagreement(project, predicted):
    names = {key: image.original_name for key, image in predicted.items() if key != "other"}

    assert filtered(project, predicted=predicted["other"]) == {
        names["disagree"],
        names["fresh"],
    }
    assert filtered(project, confidence_min=0.65, confidence_max=0.95) == {
        names["agree"],
        names["fresh"],
    }
    assert filtered(project, disagreement=DISAGREE) == {names["disagree"]}
    assert filtered(project, disagreement=AGREE) == {names["agree"]}


def test_labeling_and_prediction_filters_combine(project, predicted):
    filters = {"status": LabelStatus.UNLABELED, "predicted": predicted["other"]}

    assert filtered(project, **filters) == {predicted["fresh"].original_name}


def test_the_badges_read_predictions_without_a_query_per_image(
    project, predicted, owner, django_assert_num_queries
):
    images = labeling_selectors.images_filtered(project=project, filters={}, user=owner)

    with django_assert_num_queries(1):
        rows = list(images_with_active_prediction(images))

    assert {row.predicted_confidence for row in rows} == {0.9, 0.6, 0.7}


def test_the_prediction_filter_form_reads_confidence_in_percent_and_offers_the_projects_classes(
    project, predicted
):
    form = PredictionFilterForm(
        {"confidence_min": "65", "confidence_max": "", "predicted": predicted["other"].pk},
        project=project,
    )

    assert form.filters() == {"confidence_min": 0.65, "predicted": predicted["other"]}
    assert set(form.fields["predicted"].queryset) == set(project.classes.all())
