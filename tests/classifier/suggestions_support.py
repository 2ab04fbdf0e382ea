"""A project whose active model version has predicted some images: the world of the
suggestion tests (tests/classifier/test_suggestions*.py, tests/browser/test_suggestions.py)."""

from classifier.models import ModelVersionStatus
from labeling.models import Project, Split
from tests.classifier.factories import ModelVersionFactory, PredictionFactory
from tests.factories import ImageFactory


def predicted_image(project: Project, *, label: str, confidence: float, split: str = Split.TRAIN):
    """An image of the project that the active version predicts as `label`."""
    version = active_version(project)
    image = ImageFactory(project=project, split=split)
    label_class = project.classes.get(name=label)
    other = project.classes.exclude(pk=label_class.pk).first()
    PredictionFactory(
        model_version=version,
        image=image,
        label=label_class,
        confidence=confidence,
        probabilities={label: confidence, other.name: round(1 - confidence, 6)},
    )
    return image


def active_version(project: Project):
    version = project.model_versions.filter(status=ModelVersionStatus.ACTIVE).first()
    return version or ModelVersionFactory(
        project=project, version=1, status=ModelVersionStatus.ACTIVE
    )
