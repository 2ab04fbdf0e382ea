"""The kept prediction counts (classifier.models.PredictionTally): on PostgreSQL the
predictions table's triggers keep each version's count, whoever writes the predictions; the
dashboard's model card reads it instead of counting. (On SQLite the selector counts; the
trigger tests need PostgreSQL: DATABASE_URL=postgres://...)"""

import pytest
from django.db import connection
from django.db.models import Count

from classifier import services
from classifier.models import (
    JobStatus,
    ModelVersionStatus,
    Prediction,
    PredictionTally,
)
from classifier.selectors import model_version_prediction_count, project_model_summary
from classifier.worker import prediction_job_execute, training_run_execute
from labeling.models import Image
from tests.classifier.factories import ModelVersionFactory, PredictionFactory
from tests.factories import ImageFactory, ProjectFactory
from tests.support.labeled_images import FAST_TRAINING

pytestmark = pytest.mark.django_db

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the triggers are PostgreSQL's"
)


def recounted() -> dict[int, int]:
    return dict(
        Prediction.objects.order_by()
        .values_list("model_version")
        .annotate(count=Count("pk"))
        .values_list("model_version", "count")
    )


def kept() -> dict[int, int]:
    return {row.model_version_id: row.count for row in PredictionTally.objects.all() if row.count}


def predictions_upsert(version, images, confidence: float) -> None:
    """As the prediction worker writes a batch (classifier.worker.predictions): an upsert
    that replaces the version's earlier prediction of an image."""
    label = version.project.classes.first()
    Prediction.objects.bulk_create(
        [
            Prediction(
                image=image,
                model_version=version,
                label=label,
                confidence=confidence,
                probabilities={label.name: confidence},
            )
            for image in images
        ],
        update_conflicts=True,
        unique_fields=["image", "model_version"],
        update_fields=["label", "confidence", "probabilities", "created_at"],
    )


@on_postgresql
def test_the_workers_upserts_count_only_the_new_predictions(project):
    version = ModelVersionFactory(project=project)
    images = ImageFactory.create_batch(5, project=project)

    predictions_upsert(version, images[:3], 0.6)
    predictions_upsert(version, images, 0.7)  # three predicted again, two new

    assert kept() == recounted() == {version.pk: 5}


@on_postgresql
def test_the_prediction_workers_jobs_count_each_image_once(labeled_project, owner):
    """The real pipeline (tiny backbone): two jobs over the same images, then one more."""
    project = labeled_project()
    run, _ = services.training_run_start(
        project=project, requested_by=owner, hyperparameters=FAST_TRAINING
    )
    training_run_execute(run_id=run.pk, worker="test@here")
    run.refresh_from_db()
    assert run.status == JobStatus.SUCCEEDED, run.error
    image_ids = list(project.images.order_by("pk").values_list("pk", flat=True)[:4])
    for ids in (image_ids[:3], image_ids[:3], image_ids):
        job = services.prediction_job_start(project=project, requested_by=owner, image_ids=ids)
        prediction_job_execute(job_id=job.pk, worker="test@here")

    assert kept() == recounted() == {job.model_version_id: 4}


@on_postgresql
def test_the_kept_counts_follow_deletions_of_every_kind(project):
    first, second = ModelVersionFactory.create_batch(2, project=project)
    images = ImageFactory.create_batch(6, project=project)
    for version in (first, second):
        predictions_upsert(version, images, 0.8)
    PredictionFactory(model_version=second)  # an image of its own

    images[0].delete()  # its predictions go with it
    Image.objects.filter(pk__in=[images[1].pk, images[2].pk]).delete()
    Prediction.objects.filter(model_version=first, image=images[3]).delete()
    assert kept() == recounted() == {first.pk: 2, second.pk: 4}

    first.delete()
    assert kept() == recounted() == {second.pk: 4}


@on_postgresql
def test_deleting_a_project_leaves_no_counts_behind(owner):
    project = ProjectFactory(created_by=owner)
    version = ModelVersionFactory(project=project)
    predictions_upsert(version, ImageFactory.create_batch(3, project=project), 0.9)

    project.delete()

    assert not PredictionTally.objects.exclude(count=0).exists()


@on_postgresql
def test_the_count_is_read_off_the_kept_row(project, django_assert_num_queries):
    version = ModelVersionFactory(project=project)
    predictions_upsert(version, ImageFactory.create_batch(4, project=project), 0.9)
    PredictionTally.objects.filter(model_version_id=version.pk).update(count=1234)

    with django_assert_num_queries(1):
        assert model_version_prediction_count(model_version=version) == 1234


def test_the_model_card_counts_the_images_and_the_active_versions_predictions(project):
    """On either database: PostgreSQL's kept counts, SQLite's counting."""
    active = ModelVersionFactory(project=project, status=ModelVersionStatus.ACTIVE)
    retired = ModelVersionFactory(project=project, status=ModelVersionStatus.RETIRED)
    images = ImageFactory.create_batch(5, project=project)
    predictions_upsert(active, images[:3], 0.9)
    predictions_upsert(retired, images, 0.9)
    ImageFactory(project=ProjectFactory(created_by=project.created_by))  # another project's

    summary = project_model_summary(project=project)

    assert (summary["predicted_count"], summary["image_count"]) == (3, 5)
    assert model_version_prediction_count(model_version=ModelVersionFactory(project=project)) == 0
