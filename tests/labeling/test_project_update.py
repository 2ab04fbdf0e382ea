import pytest
from django.core.exceptions import ValidationError

from labeling.models import LabelStatus
from labeling.services import annotation_create, image_review, project_update
from tests.factories import ImageFactory

RATIOS = {"train": 60, "validation": 20, "test": 20}


def update(project, **changes):
    settings = {
        "name": project.name,
        "description": project.description,
        "split_ratios": RATIOS,
        "annotations_per_image": project.annotations_per_image,
        **changes,
    }
    return project_update(project=project, **settings)


def test_settings_are_saved(project):
    update(project, name=" Mugs ", split_ratios={"train": 80, "test": 20})
    project.refresh_from_db()
    assert project.name == "Mugs"
    assert project.split_ratios == {"train": 80, "validation": 0, "test": 20}


def test_requiring_more_annotations_unlabels_images_with_too_few(project, owner):
    image = ImageFactory(project=project)
    annotation_create(image=image, user=owner, label_class=project.classes.first())
    update(project, annotations_per_image=2)
    image.refresh_from_db()
    assert (image.label, image.label_status) == (None, LabelStatus.UNLABELED)


def test_requiring_fewer_annotations_labels_images_that_now_have_enough(project, owner):
    project.annotations_per_image = 2
    project.save()
    image = ImageFactory(project=project)
    coffee = project.classes.first()
    annotation_create(image=image, user=owner, label_class=coffee)
    update(project, annotations_per_image=1)
    image.refresh_from_db()
    assert (image.label, image.label_status) == (coffee, LabelStatus.LABELED)


def test_a_review_decision_survives_a_change_of_the_requirement(project, owner):
    image = ImageFactory(project=project)
    other = project.classes.get(name="other")
    image_review(image=image, label_class=other)
    update(project, annotations_per_image=3)
    image.refresh_from_db()
    assert (image.label, image.label_status) == (other, LabelStatus.LABELED)


@pytest.mark.parametrize(
    "changes",
    [
        {"split_ratios": {"train": 50, "test": 20}},
        {"split_ratios": {"training": 100}},
        {"annotations_per_image": 0},
        {"name": "  "},
    ],
)
def test_invalid_settings_are_refused_and_change_nothing(project, changes):
    with pytest.raises(ValidationError):
        update(project, **{"name": "Renamed", **changes})
    project.refresh_from_db()
    assert project.name == "Coffee"
