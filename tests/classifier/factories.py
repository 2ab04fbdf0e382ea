"""factory_boy factories for the classifier's rows (the shared ones are in tests/factories.py).

A ModelVersionFactory artifact is placeholder bytes: fine for reads and constraints; tests
that predict train a real head through classifier.services instead.
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
