"""The project settings page and the services behind it: classes added, renamed, recoloured
and removed (only while no label uses them), the other settings, and deleting a project."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from classifier.models import ModelVersion, Prediction
from labeling.forms import ProjectSettingsForm
from labeling.models import Annotation, Image, LabelClass, LabelStatus, Project
from labeling.services import (
    annotation_create,
    image_review,
    label_classes_update,
    project_delete,
    project_update,
)
from tests.classifier.factories import ModelVersionFactory, PredictionFactory
from tests.factories import ImageFactory


def specs_of(project) -> list[dict]:
    return [
        {"id": c.pk, "name": c.name, "key": c.key, "color": c.color} for c in project.classes.all()
    ]


def names_keys_colors(project) -> list[tuple[str, str, str]]:
    return list(project.classes.values_list("name", "key", "color"))


# --- Classes -----------------------------------------------------------------------------------


def test_classes_are_renamed_recoloured_and_added_in_the_given_order(project):
    coffee, other = project.classes.all()
    label_classes_update(
        project=project,
        classes=[
            {"id": other.pk, "name": "not coffee", "key": "2", "color": "#AABBCC"},
            {"id": coffee.pk, "name": "coffee", "key": "1", "color": "#112233"},
            {"name": "tea", "key": "3", "color": "#445566"},
        ],
    )
    assert names_keys_colors(project) == [
        ("not coffee", "2", "#aabbcc"),
        ("coffee", "1", "#112233"),
        ("tea", "3", "#445566"),
    ]


def test_a_renamed_class_keeps_its_labels(project, owner):
    coffee = project.classes.get(name="coffee")
    image = ImageFactory(project=project)
    annotation_create(image=image, user=owner, label_class=coffee)
    specs = specs_of(project)
    specs[0]["name"] = "espresso"
    label_classes_update(project=project, classes=specs)
    image.refresh_from_db()
    assert (image.label.name, image.label_status) == ("espresso", LabelStatus.LABELED)


def test_two_classes_can_swap_names_and_keys(project):
    specs = specs_of(project)
    specs[0]["name"], specs[1]["name"] = specs[1]["name"], specs[0]["name"]
    specs[0]["key"], specs[1]["key"] = specs[1]["key"], specs[0]["key"]
    label_classes_update(project=project, classes=specs)
    assert [(n, k) for n, k, _ in names_keys_colors(project)] == [("other", "2"), ("coffee", "1")]


@pytest.mark.parametrize("color", ["red", "#fff", "#12345g", "#1234567", "", "url(x)"])
def test_a_colour_must_be_a_colour(project, color):
    specs = specs_of(project)
    specs[0]["color"] = color
    with pytest.raises(ValidationError, match="not a colour"):
        label_classes_update(project=project, classes=specs)


def test_an_unused_class_is_removed(project):
    label_classes_update(
        project=project,
        classes=[*specs_of(project), {"name": "tea", "key": "3", "color": "#445566"}],
    )
    label_classes_update(project=project, classes=specs_of(project)[:2])
    assert [name for name, _, _ in names_keys_colors(project)] == ["coffee", "other"]


def test_a_class_with_annotations_is_not_removed_and_the_error_says_how_many(
    project, owner, annotator
):
    label_classes_update(
        project=project,
        classes=[*specs_of(project), {"name": "tea", "key": "3", "color": "#445566"}],
    )
    tea = project.classes.get(name="tea")
    for user in (owner, annotator):
        annotation_create(image=ImageFactory(project=project), user=user, label_class=tea)
    with pytest.raises(ValidationError, match=r"“tea” \(2 labels\).*Rename the class instead"):
        label_classes_update(project=project, classes=specs_of(project)[:2])
    assert project.classes.filter(name="tea").exists()
    assert Annotation.objects.filter(label_class=tea).count() == 2


def test_a_class_an_owner_reviewed_an_image_into_is_in_use(project):
    label_classes_update(
        project=project,
        classes=[*specs_of(project), {"name": "tea", "key": "3", "color": "#445566"}],
    )
    image_review(image=ImageFactory(project=project), label_class=project.classes.get(name="tea"))
    with pytest.raises(ValidationError, match=r"“tea” \(1 label\)"):
        label_classes_update(project=project, classes=specs_of(project)[:2])


def test_a_project_keeps_at_least_two_classes(project):
    with pytest.raises(ValidationError, match="two to nine"):
        label_classes_update(project=project, classes=specs_of(project)[:1])


def test_another_projects_class_cannot_be_changed(project, owner):
    from tests.factories import ProjectFactory

    elsewhere = ProjectFactory(created_by=owner).classes.first()
    specs = specs_of(project)
    specs[0]["id"] = elsewhere.pk
    with pytest.raises(ValidationError, match="not one of this project's classes"):
        label_classes_update(project=project, classes=specs)


# --- Other settings -----------------------------------------------------------------------------


def test_other_settings_are_set_by_field_name(project):
    project_update(
        project=project,
        name=project.name,
        description="",
        split_ratios={"train": 60, "validation": 20, "test": 20},
        annotations_per_image=1,
        other_settings={"description": "set as another setting"},
    )
    project.refresh_from_db()
    assert project.description == "set as another setting"


def test_the_settings_form_shows_the_fields_named_in_other_settings(project, monkeypatch):
    # The lead exposes other engineers' Project fields by naming them; a model field is enough.
    monkeypatch.setattr(ProjectSettingsForm, "OTHER_SETTINGS", ("created_at",))
    form = ProjectSettingsForm(project=project)
    assert [field.name for field in form.other_setting_fields] == ["created_at"]
    assert form.initial["created_at"] == project.created_at


# --- Deleting ----------------------------------------------------------------------------------


def test_deleting_a_project_deletes_its_rows_and_stored_files(
    project, owner, stored_files, django_capture_on_commit_callbacks
):
    image = ImageFactory(project=project)
    annotation_create(image=image, user=owner, label_class=project.classes.first())
    PredictionFactory(image=image, model_version=ModelVersionFactory(project=project))
    assert len(stored_files()) == 3  # the image, its thumbnail and the model's artifact
    with django_capture_on_commit_callbacks(execute=True):
        project_delete(project=project)
    assert not Project.objects.filter(pk=project.pk).exists()
    assert (
        Image.objects.count(),
        Annotation.objects.count(),
        ModelVersion.objects.count(),
        Prediction.objects.count(),
        LabelClass.objects.count(),
    ) == (0, 0, 0, 0, 0)
    assert stored_files() == []


# --- The page ----------------------------------------------------------------------------------


def settings_post(project, **changes) -> dict:
    classes = specs_of(project)
    data = {
        "name": project.name,
        "description": project.description,
        "train_percent": 60,
        "validation_percent": 20,
        "test_percent": 20,
        "annotations_per_image": 1,
        "classes-TOTAL_FORMS": len(classes),
        "classes-INITIAL_FORMS": len(classes),
    }
    for index, spec in enumerate(classes):
        data.update({f"classes-{index}-{name}": value for name, value in spec.items()})
    # "More settings" as the page sends them unchanged (an unticked box sends nothing).
    for name in ProjectSettingsForm.OTHER_SETTINGS:
        value = getattr(project, name)
        if value is True:
            data[name] = "on"
        elif value not in (False, None):
            data[name] = value
    data.update(changes)
    return data


def test_an_owner_saves_settings_and_classes_on_the_page(client, project, owner):
    client.force_login(owner)
    url = reverse("labeling:project-settings", args=[project.pk])
    response = client.post(
        url,
        settings_post(
            project, name="Mugs", **{"classes-1-name": "tea", "classes-1-color": "#00ff00"}
        ),
    )
    assert response.status_code == 302
    project.refresh_from_db()
    assert project.name == "Mugs"
    assert names_keys_colors(project)[1] == ("tea", "2", "#00ff00")


def test_the_page_refuses_to_remove_a_class_in_use_and_saves_nothing(client, project, owner):
    annotation_create(
        image=ImageFactory(project=project),
        user=owner,
        label_class=project.classes.get(name="other"),
    )
    client.force_login(owner)
    url = reverse("labeling:project-settings", args=[project.pk])
    data = settings_post(project, name="Renamed", **{"classes-1-DELETE": "on"})
    data.update(
        {
            "classes-TOTAL_FORMS": 3,
            "classes-2-name": "tea",
            "classes-2-key": "3",
            "classes-2-color": "#123456",
        }
    )
    response = client.post(url, data)
    assert response.status_code == 200
    assert "Classes in use cannot be removed: “other” (1 label)" in response.content.decode()
    project.refresh_from_db()
    assert project.name == "Coffee"  # the settings and the classes are saved together or not at all
    assert [name for name, _, _ in names_keys_colors(project)] == ["coffee", "other"]


def test_an_owner_chooses_the_warm_start_queue_on_the_page(client, project, owner):
    client.force_login(owner)
    url = reverse("labeling:project-settings", args=[project.pk])
    assert 'value="warm_start"' in client.get(url).content.decode()

    response = client.post(url, settings_post(project, queue_strategy="warm_start"))

    assert response.status_code == 302
    project.refresh_from_db()
    assert project.queue_strategy == "warm_start"


def test_the_page_says_which_classes_are_in_use(client, project, owner):
    annotation_create(
        image=ImageFactory(project=project),
        user=owner,
        label_class=project.classes.get(name="other"),
    )
    client.force_login(owner)
    response = client.get(reverse("labeling:project-settings", args=[project.pk]))
    assert response.content.decode().count("Used by 1 label:") == 1


def test_deleting_needs_the_project_name_typed(client, project, owner):
    client.force_login(owner)
    url = reverse("labeling:project-delete", args=[project.pk])
    response = client.post(url, {"confirm_name": "coffee"}, follow=True)
    assert "Type “Coffee” exactly" in response.content.decode()
    assert Project.objects.filter(pk=project.pk).exists()
    response = client.post(url, {"confirm_name": "Coffee"})
    assert response.status_code == 302 and response.url == reverse("labeling:home")
    assert not Project.objects.filter(pk=project.pk).exists()


def test_removing_all_but_one_class_says_a_project_needs_two(client, project, owner):
    client.force_login(owner)
    url = reverse("labeling:project-settings", args=[project.pk])
    response = client.post(url, settings_post(project, **{"classes-1-DELETE": "on"}))
    assert "A project needs at least two label classes." in response.content.decode()
