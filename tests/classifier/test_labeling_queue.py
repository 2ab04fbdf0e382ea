"""The labeling queue's strategies: orderings the prediction worker stores
(classifier.worker.labeling_queue.labeling_queue_refresh, run here in this process), read in
rank order by classifier.selectors.labeling_queue, and the API over it."""

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from classifier.ml import sampling
from classifier.models import Embedding, LabelingQueuePlace, ModelVersionStatus, Prediction
from classifier.selectors import STRATEGIES, labeling_queue
from classifier.worker.labeling_queue import labeling_queue_refresh
from labeling.models import QueueStrategy
from labeling.services import annotation_create
from tests.classifier.factories import ModelVersionFactory
from tests.factories import ImageFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def active(project):
    return ModelVersionFactory(
        project=project,
        version=1,
        status=ModelVersionStatus.ACTIVE,
        backbone="tiny",
        metrics={"class_names": ["coffee", "other"]},
    )


def predict(image, version, **probabilities) -> Prediction:
    top = max(probabilities, key=probabilities.get)
    return Prediction.objects.create(
        image=image,
        model_version=version,
        label=image.project.classes.get(name=top),
        confidence=probabilities[top],
        probabilities=probabilities,
    )


def ids(queued) -> list[int]:
    return [item.image.pk for item in queued]


def test_least_confidence_offers_the_image_the_model_is_least_sure_of_first(
    project, active, annotator
):
    sure, unsure, middling = ImageFactory.create_batch(3, project=project)
    predict(sure, active, coffee=0.97, other=0.03)
    predict(unsure, active, coffee=0.52, other=0.48)
    predict(middling, active, coffee=0.2, other=0.8)
    labeling_queue_refresh(project_id=project.pk)

    queue = labeling_queue(project=project, user=annotator, strategy="least_confidence")

    assert ids(queue) == [unsure.pk, middling.pk, sure.pk]
    assert queue[0].reason == "The model is unsure: 52% coffee"
    assert queue[0].suggestion == {"label": "coffee", "confidence": 0.52}


def test_the_project_setting_chooses_the_strategy_when_the_request_does_not(
    project, active, annotator
):
    first, second = ImageFactory.create_batch(2, project=project)
    predict(first, active, coffee=0.9, other=0.1)
    predict(second, active, coffee=0.5, other=0.5)
    labeling_queue_refresh(project_id=project.pk)

    project.queue_strategy = QueueStrategy.SEQUENTIAL
    assert ids(labeling_queue(project=project, user=annotator)) == [first.pk, second.pk]
    project.queue_strategy = QueueStrategy.MARGIN
    assert ids(labeling_queue(project=project, user=annotator)) == [second.pk, first.pk]


def test_margin_prefers_the_image_torn_between_two_classes(project, active, annotator):
    project.classes.create(name="tea", key="3")
    spread, torn = ImageFactory.create_batch(2, project=project)
    predict(spread, active, coffee=0.45, other=0.275, tea=0.275)
    predict(torn, active, coffee=0.45, other=0.44, tea=0.11)
    labeling_queue_refresh(project_id=project.pk)

    assert ids(labeling_queue(project=project, user=annotator, strategy="margin")) == [
        torn.pk,
        spread.pk,
    ]
    assert ids(labeling_queue(project=project, user=annotator, strategy="entropy")) == [
        spread.pk,
        torn.pk,
    ]


def test_the_random_order_needs_no_model_and_offers_every_image_once(project, annotator):
    images = ImageFactory.create_batch(12, project=project)
    labeling_queue_refresh(project_id=project.pk)

    queue = labeling_queue(project=project, user=annotator, strategy="random", limit=20)

    assert sorted(ids(queue)) == sorted(image.pk for image in images)
    assert ids(queue) != [image.pk for image in images]
    assert {item.reason for item in queue} == {"Picked at random"}


def test_diversity_does_not_offer_near_identical_photos_one_after_the_other(
    project, active, annotator
):
    # Five near-copies of one photo (the most uncertain) and two different ones.
    rng = np.random.default_rng(3)
    base = rng.normal(size=16)
    copies = ImageFactory.create_batch(5, project=project)
    different = ImageFactory.create_batch(2, project=project)
    vectors = [base + rng.normal(0, 0.01, 16) for _ in copies]
    vectors += [rng.normal(size=16) * 3 for _ in different]
    for image, vector in zip(copies + different, vectors, strict=True):
        Embedding.objects.create(
            sha256=image.sha256,
            backbone="tiny",
            dim=16,
            vector=np.asarray(vector, dtype="<f4").tobytes(),
        )
    for image in copies:
        predict(image, active, coffee=0.5, other=0.5)
    for image in different:
        predict(image, active, coffee=0.8, other=0.2)
    labeling_queue_refresh(project_id=project.pk)

    queue = labeling_queue(project=project, user=annotator, strategy="diversity", limit=3)

    first_three = set(ids(queue))
    assert len(first_three & {image.pk for image in copies}) == 1
    assert first_three >= {image.pk for image in different}
    assert queue[0].reason.startswith("Unlike the images labeled so far")


def test_the_class_balanced_mix_alternates_the_predicted_classes(project, active, annotator):
    coffees = ImageFactory.create_batch(3, project=project)
    others = ImageFactory.create_batch(3, project=project)
    for image, confidence in zip(coffees, (0.6, 0.7, 0.8), strict=True):
        predict(image, active, coffee=confidence, other=1 - confidence)
    for image, confidence in zip(others, (0.9, 0.95, 0.99), strict=True):
        predict(image, active, coffee=1 - confidence, other=confidence)
    labeling_queue_refresh(project_id=project.pk)

    queue = labeling_queue(project=project, user=annotator, strategy="balanced", limit=4)

    assert [item.suggestion["label"] for item in queue] == ["coffee", "other"] * 2
    assert ids(queue) == [coffees[0].pk, others[0].pk, coffees[1].pk, others[1].pk]


def warm_start_ids(project, annotator, active, train_labels: int) -> list[int]:
    active.counts = {
        "train": {"coffee": train_labels - train_labels // 2, "other": train_labels // 2}
    }
    active.save(update_fields=["counts"])
    labeling_queue_refresh(project_id=project.pk)
    return ids(labeling_queue(project=project, user=annotator, strategy="warm_start", limit=20))


def test_warm_start_picks_at_random_while_the_model_was_trained_on_few_labels(
    project, active, annotator
):
    images = ImageFactory.create_batch(20, project=project)
    for number, image in enumerate(images):
        predict(image, active, coffee=0.5 + number / 40, other=0.5 - number / 40)
    few = sampling.WARM_START_LABELS_PER_CLASS * 2 - 1  # two classes

    queue = warm_start_ids(project, annotator, active, train_labels=few)

    random_queue = ids(labeling_queue(project=project, user=annotator, strategy="random", limit=20))
    assert queue == random_queue
    assert queue != [image.pk for image in images]  # not least confident first
    assert labeling_queue(project=project, user=annotator, strategy="warm_start")[0].reason == (
        "Picked at random while the model has seen few labels"
    )


def test_warm_start_follows_least_confidence_once_the_model_has_seen_enough_labels(
    project, active, annotator
):
    images = ImageFactory.create_batch(20, project=project)
    for number, image in enumerate(images):
        predict(image, active, coffee=0.5 + number / 40, other=0.5 - number / 40)
    enough = sampling.WARM_START_LABELS_PER_CLASS * 2

    queue = warm_start_ids(project, annotator, active, train_labels=enough)

    assert queue == [image.pk for image in images]
    assert labeling_queue(project=project, user=annotator, strategy="warm_start")[0].reason == (
        "The model is unsure: 50% coffee"
    )


def test_images_labeled_since_the_orderings_were_computed_are_not_offered(
    project, active, annotator
):
    images = ImageFactory.create_batch(4, project=project)
    for image, confidence in zip(images, (0.5, 0.6, 0.7, 0.8), strict=True):
        predict(image, active, coffee=confidence, other=1 - confidence)
    labeling_queue_refresh(project_id=project.pk)
    coffee = project.classes.get(name="coffee")
    annotation_create(image=images[0], user=annotator, label_class=coffee)

    for strategy in STRATEGIES:
        queue = labeling_queue(project=project, user=annotator, strategy=strategy, limit=10)
        assert images[0].pk not in ids(queue), strategy
        assert len(queue) == 3, strategy


def test_past_the_stored_places_the_queue_goes_on_in_upload_order(
    project, active, annotator, settings
):
    settings.CLASSIFIER_LABELING_QUEUE_DEPTH = 2
    images = ImageFactory.create_batch(5, project=project)
    for image, confidence in zip(images, (0.9, 0.8, 0.7, 0.6, 0.5), strict=True):
        predict(image, active, coffee=confidence, other=1 - confidence)
    labeling_queue_refresh(project_id=project.pk)
    unpredicted = ImageFactory(project=project)

    queue = labeling_queue(project=project, user=annotator, strategy="least_confidence", limit=10)

    ranked, upload_order = [images[4], images[3]], [*images[:3], unpredicted]
    assert ids(queue) == [image.pk for image in ranked + upload_order]
    assert queue[2].reason == "Next in upload order (after the images the model ranked)"


def test_the_queue_leaves_out_the_images_asked_to_and_stops_at_the_limit(
    project, active, annotator
):
    images = ImageFactory.create_batch(5, project=project)
    for image, confidence in zip(images, (0.5, 0.6, 0.7, 0.8, 0.9), strict=True):
        predict(image, active, coffee=confidence, other=1 - confidence)
    labeling_queue_refresh(project_id=project.pk)

    queue = labeling_queue(
        project=project,
        user=annotator,
        strategy="least_confidence",
        exclude_ids={images[0].pk, images[2].pk},
        limit=2,
    )

    assert ids(queue) == [images[1].pk, images[3].pk]


def test_without_predictions_the_model_strategies_say_they_follow_upload_order(project, annotator):
    first, second = ImageFactory.create_batch(2, project=project)

    queue = labeling_queue(project=project, user=annotator, strategy="entropy")

    assert ids(queue) == [first.pk, second.pk]
    assert queue[0].reason == "No prediction yet: next in upload order"
    assert queue[0].suggestion is None


def test_a_refresh_replaces_the_stored_places_and_stores_each_strategy(project, active):
    images = ImageFactory.create_batch(3, project=project)
    for image in images:
        predict(image, active, coffee=0.6, other=0.4)

    stored = labeling_queue_refresh(project_id=project.pk)
    again = labeling_queue_refresh(project_id=project.pk)

    expected = {strategy: 3 for strategy in STRATEGIES if strategy != "sequential"}
    assert stored == again == {**expected, "diversity": 0}  # no embeddings cached here
    assert LabelingQueuePlace.objects.filter(project=project).count() == sum(stored.values())


def test_reading_the_queue_costs_the_same_few_queries_however_long_it_is(
    project, active, annotator
):
    def queries_for(count: int) -> int:
        for image in ImageFactory.create_batch(count, project=project):
            predict(image, active, coffee=0.7, other=0.3)
        labeling_queue_refresh(project_id=project.pk)
        with CaptureQueriesContext(connection) as captured:
            labeling_queue(project=project, user=annotator, strategy="margin", limit=5)
        return len(captured)

    assert queries_for(5) == queries_for(60) <= 4


# --- The API ------------------------------------------------------------------------------


@pytest.fixture
def api(annotator):
    client = APIClient()
    client.force_authenticate(annotator)
    return client


def test_the_api_answers_the_strategy_and_each_image_with_its_suggestion_and_reason(
    project, active, api
):
    sure, unsure = ImageFactory.create_batch(2, project=project)
    predict(sure, active, coffee=0.1, other=0.9)
    predict(unsure, active, coffee=0.52, other=0.48)
    labeling_queue_refresh(project_id=project.pk)

    response = api.get(f"/api/projects/{project.pk}/queue/?strategy=least_confidence&limit=1")

    assert response.status_code == 200
    assert response.json() == {
        "strategy": "least_confidence",
        "results": [
            {
                "id": unsure.pk,
                "original_name": unsure.original_name,
                "url": f"http://testserver/media/images/{unsure.pk}/",
                "split": unsure.split,
                "suggestion": {"label": "coffee", "confidence": 0.52},
                "reason": "The model is unsure: 52% coffee",
            }
        ],
    }


def test_the_api_uses_the_projects_strategy_by_default(project, api):
    ImageFactory(project=project)

    response = api.get(f"/api/projects/{project.pk}/queue/")

    assert response.status_code == 200
    assert response.json()["strategy"] == project.queue_strategy
    assert response.json()["results"][0]["suggestion"] is None


def test_an_unknown_strategy_is_a_400_naming_the_valid_ones(project, api):
    response = api.get(f"/api/projects/{project.pk}/queue/?strategy=vibes")

    assert response.status_code == 400
    message = str(response.json())
    assert "vibes" in message
    for name in STRATEGIES:
        assert name in message


def test_the_api_takes_the_warm_start_strategy(project, api):
    image = ImageFactory(project=project)
    labeling_queue_refresh(project_id=project.pk)  # no model yet: the random order

    response = api.get(f"/api/projects/{project.pk}/queue/?strategy=warm_start")

    assert response.status_code == 200
    assert response.json()["strategy"] == "warm_start"
    assert [row["id"] for row in response.json()["results"]] == [image.pk]
    assert response.json()["results"][0]["reason"] == (
        "Picked at random while the model has seen few labels"
    )


def test_the_schema_lists_every_strategy_in_both_enums(api):
    components = api.get("/api/schema/?format=json").json()["components"]["schemas"]

    assert components["StrategyEnum"]["enum"] == list(STRATEGIES)
    assert components["QueueStrategyEnum"]["enum"] == list(STRATEGIES)


def test_the_queue_needs_annotator_rights(project, viewer):
    client = APIClient()
    client.force_authenticate(viewer)

    assert client.get(f"/api/projects/{project.pk}/queue/").status_code == 403


# --- Who computes the orderings -------------------------------------------------------------


def test_a_prediction_job_reorders_the_queue_when_it_finishes(labeled_project, owner):
    from classifier import services
    from classifier.worker import prediction_job_execute, training_run_execute
    from tests.support.labeled_images import FAST_TRAINING

    project = labeled_project()
    run, _ = services.training_run_start(
        project=project, requested_by=owner, hyperparameters=FAST_TRAINING
    )
    training_run_execute(run_id=run.pk, worker="test@here")
    new = ImageFactory.create_batch(3, project=project)
    job = services.prediction_job_start(
        project=project, requested_by=owner, image_ids=[image.pk for image in new]
    )

    prediction_job_execute(job_id=job.pk, worker="test@here")

    ranked = LabelingQueuePlace.objects.filter(project=project, strategy="least_confidence")
    assert set(ranked.values_list("image_id", flat=True)) == {image.pk for image in new}
    assert queue_reason(project, owner).startswith("The model is unsure: ")


def queue_reason(project, user) -> str:
    return labeling_queue(project=project, user=user, strategy="least_confidence")[0].reason


def test_an_upload_into_a_project_without_a_model_asks_a_worker_for_the_random_order(
    project, django_capture_on_commit_callbacks, monkeypatch
):
    from celery import current_app

    from labeling.signals import images_created

    sent = []
    monkeypatch.setattr(current_app, "send_task", lambda name, args: sent.append((name, args)))
    image = ImageFactory(project=project)

    with django_capture_on_commit_callbacks(execute=True):
        images_created.send(sender=type(project), project=project, image_ids=[image.pk])

    assert sent == [("classifier.tasks.prediction_labeling_queue_refresh", [project.pk])]
