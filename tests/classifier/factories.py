"""factory_boy factories for the classifier's rows (the shared ones are in tests/factories.py).

A ModelVersionFactory artifact is placeholder bytes: fine for reads and constraints; tests
that predict train a real head through classifier.services instead. make_version makes a
version as a finished training run leaves it, with realistic metrics (metrics_for).
"""

import factory
from django.core.files.base import ContentFile

from classifier.models import (
    JobStatus,
    ModelVersion,
    ModelVersionStatus,
    Prediction,
    PredictionJob,
    PredictionJobKind,
    TrainingRun,
)
from tests.factories import ImageFactory, ProjectFactory


class TrainingRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TrainingRun

    project = factory.SubFactory(ProjectFactory)
    requested_by = factory.LazyAttribute(lambda o: o.project.created_by)
    status = JobStatus.SUCCEEDED


class ModelVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ModelVersion

    project = factory.SubFactory(ProjectFactory)
    version = factory.Sequence(lambda n: n + 1)
    backbone = "tiny"
    artifact = factory.LazyAttribute(lambda o: ContentFile(b"not a real head", name="head.bin"))
    class_ids = factory.LazyAttribute(
        lambda o: list(o.project.classes.order_by("order", "id").values_list("id", flat=True))
    )
    status = ModelVersionStatus.CANDIDATE
    validation_accuracy = 0.9
    test_accuracy = 0.9
    metrics = factory.LazyAttribute(
        lambda o: {"accuracy": o.test_accuracy, "validation_accuracy": o.validation_accuracy}
    )


class PredictionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Prediction

    model_version = factory.SubFactory(ModelVersionFactory)
    image = factory.SubFactory(
        ImageFactory, project=factory.SelfAttribute("..model_version.project")
    )
    label = factory.LazyAttribute(lambda o: o.model_version.project.classes.first())
    confidence = 0.9
    probabilities = factory.LazyAttribute(lambda o: {o.label.name: o.confidence})


class PredictionJobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PredictionJob

    model_version = factory.SubFactory(ModelVersionFactory)
    project = factory.SelfAttribute("model_version.project")
    kind = PredictionJobKind.SELECTED


def metrics_for(test_accuracy: float, validation_accuracy: float, epochs: int = 6) -> dict:
    """Metrics as a training run writes them (see ModelVersion.metrics)."""
    return {
        "accuracy": test_accuracy,
        "loss": 0.12,
        "validation_accuracy": validation_accuracy,
        "validation_loss": 0.15,
        "class_names": ["coffee", "other"],
        "per_class": {
            "coffee": {"precision": 0.96, "recall": 0.98, "f1": 0.9699, "support": 50},
            "other": {"precision": 0.98, "recall": 0.96, "f1": 0.9698, "support": 50},
        },
        "confusion_matrix": [[49, 1], [2, 48]],
        "history": {
            "loss": [0.6 / (epoch + 1) for epoch in range(epochs)],
            "val_loss": [0.65 / (epoch + 1) for epoch in range(epochs)],
            "accuracy": [0.7 + 0.05 * epoch for epoch in range(epochs)],
            "val_accuracy": [0.68 + 0.05 * epoch for epoch in range(epochs)],
        },
        "best_epoch": epochs - 1,  # 1-based
        "timings": {"embedding_s": 4.2, "training_s": 1.5, "evaluating_s": 0.1},
        "embedded": {"cached": 200, "new": 100},
    }


def make_version(project, number: int, status: str, test: float, validation: float, **extra):
    run = TrainingRunFactory(project=project, status=JobStatus.SUCCEEDED, progress=100)
    return ModelVersionFactory(
        project=project,
        version=number,
        status=status,
        test_accuracy=test,
        validation_accuracy=validation,
        metrics=metrics_for(test, validation),
        counts={
            "train": {"coffee": 150, "other": 150},
            "validation": {"coffee": 50, "other": 50},
            "test": {"coffee": 50, "other": 50},
        },
        hyperparameters={"learning_rate": 0.001, "batch_size": 32},
        training_run=run,
        **extra,
    )
