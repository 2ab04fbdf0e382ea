import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages

from labeling.models import Annotation, LabelClass, LabelStatus, Membership, Project, Role, Split
from labeling.services import annotation_create, image_review
from tests.factories import ImageFactory, MembershipFactory, ProjectFactory, UserFactory


def form_data(response) -> dict:
    """What a browser would post back from an admin change page, untouched: the main form,
    each inline's management form and rows, with their current values."""
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        forms += [inline.formset.management_form, *inline.formset.forms]
    data = {}
    for form in forms:
        for name in form.fields:
            value = form[name].value()
            if value is None or value is False:
                continue
            data[form.add_prefix(name)] = "on" if value is True else value
    return data


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def labeled(project, owner, annotator):
    """An image that the owner and the annotator both labeled coffee, and one unlabeled."""
    coffee = project.classes.get(name="coffee")
    image = ImageFactory(project=project, original_name="mug.png")
    annotation_create(image=image, user=owner, label_class=coffee)
    annotation_create(image=image, user=annotator, label_class=coffee)
    ImageFactory(project=project, original_name="plant.png")
    image.refresh_from_db()
    return image


@pytest.mark.parametrize("model", ["project", "labelclass", "membership", "image", "annotation"])
def test_every_changelist_loads_for_staff(admin_client, labeled, model):
    response = admin_client.get(f"/admin/labeling/{model}/")
    assert response.status_code == 200
    assert response.context["cl"].result_count > 0


@pytest.mark.parametrize("model", ["project", "labelclass", "membership", "image", "annotation"])
def test_every_changelist_searches(admin_client, labeled, model):
    assert admin_client.get(f"/admin/labeling/{model}/?q=coffee").status_code == 200


def test_every_change_page_loads_for_staff(admin_client, project, labeled):
    pages = [
        f"/admin/labeling/project/{project.pk}/change/",
        f"/admin/labeling/labelclass/{project.classes.first().pk}/change/",
        f"/admin/labeling/membership/{project.memberships.first().pk}/change/",
        f"/admin/labeling/image/{labeled.pk}/change/",
        f"/admin/labeling/annotation/{labeled.annotations.first().pk}/change/",
        "/admin/labeling/project/add/",
        "/admin/labeling/labelclass/add/",
        "/admin/labeling/membership/add/",
    ]
    for page in pages:
        assert admin_client.get(page).status_code == 200, page


def test_the_admin_is_for_staff_only(client, project, owner):
    client.force_login(owner)
    response = client.get("/admin/labeling/image/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_the_project_list_shows_classes_and_counts(admin_client, project, labeled):
    response = admin_client.get("/admin/labeling/project/")
    [row] = response.context["cl"].result_list
    assert (row.image_count, row.labeled_count, row.member_count) == (2, 1, 2)
    assert b"coffee, other" in response.content


def test_image_lists_show_thumbnails_through_the_checked_media_view(admin_client, labeled):
    content = admin_client.get("/admin/labeling/image/").content.decode()
    assert f'src="/media/thumbnails/{labeled.pk}/"' in content
    # never the storage's own URL of the file
    assert labeled.file.name not in content and labeled.thumbnail.name not in content


def test_the_thumbnails_shown_to_staff_are_served_to_them(admin_client, labeled):
    response = admin_client.get(f"/media/thumbnails/{labeled.pk}/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == labeled.thumbnail.open("rb").read()


def test_an_image_page_shows_its_picture_and_annotations(admin_client, labeled, owner, annotator):
    response = admin_client.get(f"/admin/labeling/image/{labeled.pk}/change/")
    content = response.content.decode()
    assert f'href="/media/images/{labeled.pk}/"' in content
    assert f'src="/media/thumbnails/{labeled.pk}/"' in content
    assert labeled.file.name not in content
    # The classifier adds a predictions inline beside the annotations.
    [inline] = [
        inline
        for inline in response.context["inline_admin_formsets"]
        if inline.formset.model is Annotation
    ]
    assert {form.instance.user for form in inline.formset.forms} == {owner, annotator}


def test_creating_a_project_in_the_admin_makes_its_classes_and_owner(admin_client, admin_user):
    response = admin_client.post(
        "/admin/labeling/project/add/",
        {
            "name": "Birds",
            "description": "",
            "classes": "robin, wren , tit",
            "train_percent": 70,
            "validation_percent": 15,
            "test_percent": 15,
            "annotations_per_image": 2,
        },
    )
    project = Project.objects.get(name="Birds")
    assert response.status_code == 302
    assert response["Location"] == "/admin/labeling/project/"
    assert list(project.classes.values_list("name", "key")) == [
        ("robin", "1"),
        ("wren", "2"),
        ("tit", "3"),
    ]
    assert (project.train_percent, project.annotations_per_image) == (70, 2)
    assert project.memberships.get().user == admin_user
    assert project.memberships.get().role == Role.OWNER


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"classes": "robin"}, "Give two to nine class names."),
        ({"classes": "robin, Robin"}, "Class names must be unique."),
        ({"train_percent": 90}, "Split ratios must add up to 100."),
    ],
)
def test_an_invalid_new_project_is_refused_on_the_form(admin_client, fields, error):
    data = {
        "name": "Birds",
        "classes": "robin, wren",
        "train_percent": 60,
        "validation_percent": 20,
        "test_percent": 20,
        "annotations_per_image": 1,
        **fields,
    }
    response = admin_client.post("/admin/labeling/project/add/", data)
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Project.objects.exists()


def test_requiring_more_annotations_re_settles_the_consensus(admin_client, project, owner):
    image = ImageFactory(project=project)
    annotation_create(image=image, user=owner, label_class=project.classes.first())
    page = admin_client.get(f"/admin/labeling/project/{project.pk}/change/")
    response = admin_client.post(
        f"/admin/labeling/project/{project.pk}/change/",
        {**form_data(page), "annotations_per_image": 2},
    )
    assert response.status_code == 302
    image.refresh_from_db()
    assert (image.label, image.label_status) == (None, LabelStatus.UNLABELED)


def test_classes_are_renamed_and_added_on_the_project_page(admin_client, project):
    page = admin_client.get(f"/admin/labeling/project/{project.pk}/change/")
    data = form_data(page)
    data.update(
        {
            "classes-0-name": "espresso",
            "classes-TOTAL_FORMS": 3,
            "classes-2-project": project.pk,
            "classes-2-name": "tea",
            "classes-2-key": "3",
            "classes-2-color": "#00aa00",
            "classes-2-order": 2,
        }
    )
    response = admin_client.post(f"/admin/labeling/project/{project.pk}/change/", data)
    assert response.status_code == 302
    assert list(project.classes.values_list("name", flat=True)) == ["espresso", "other", "tea"]


def test_members_are_added_on_the_project_page(admin_client, project):
    newcomer = UserFactory(username="nina")
    page = admin_client.get(f"/admin/labeling/project/{project.pk}/change/")
    data = form_data(page)
    total = int(data["memberships-TOTAL_FORMS"])
    data.update(
        {
            "memberships-TOTAL_FORMS": total + 1,
            f"memberships-{total}-project": project.pk,
            f"memberships-{total}-user": newcomer.pk,
            f"memberships-{total}-role": Role.VIEWER,
        }
    )
    response = admin_client.post(f"/admin/labeling/project/{project.pk}/change/", data)
    assert response.status_code == 302
    assert Membership.objects.get(project=project, user=newcomer).role == Role.VIEWER


def test_the_last_owner_is_kept_on_the_project_page(admin_client, project, owner):
    page = admin_client.get(f"/admin/labeling/project/{project.pk}/change/")
    data = form_data(page)
    data["memberships-0-DELETE"] = "on"
    response = admin_client.post(f"/admin/labeling/project/{project.pk}/change/", data)
    assert response.status_code == 200
    assert "A project needs at least one owner." in response.content.decode()
    assert Membership.objects.get(project=project, user=owner).role == Role.OWNER


def test_owners_are_swapped_on_the_project_page(admin_client, project, owner, annotator):
    page = admin_client.get(f"/admin/labeling/project/{project.pk}/change/")
    data = form_data(page)
    rows = {data[f"memberships-{n}-user"]: n for n in range(2)}
    data[f"memberships-{rows[owner.pk]}-DELETE"] = "on"
    data[f"memberships-{rows[annotator.pk]}-role"] = Role.OWNER
    response = admin_client.post(f"/admin/labeling/project/{project.pk}/change/", data)
    assert response.status_code == 302
    assert list(project.memberships.values_list("user", "role")) == [(annotator.pk, Role.OWNER)]


def test_a_membership_added_in_the_admin_goes_through_the_service(admin_client, project):
    newcomer = UserFactory(username="nina")
    response = admin_client.post(
        "/admin/labeling/membership/add/",
        {"project": project.pk, "user": newcomer.pk, "role": Role.ANNOTATOR},
    )
    assert response.status_code == 302
    assert Membership.objects.get(project=project, user=newcomer).role == Role.ANNOTATOR


def test_the_last_owner_cannot_be_demoted_nor_deleted_in_the_admin(admin_client, project, owner):
    membership = Membership.objects.get(project=project, user=owner)
    response = admin_client.post(
        f"/admin/labeling/membership/{membership.pk}/change/", {"role": Role.VIEWER}
    )
    assert "A project needs at least one owner." in response.content.decode()
    assert (
        admin_client.get(f"/admin/labeling/membership/{membership.pk}/delete/").status_code == 403
    )
    membership.refresh_from_db()
    assert membership.role == Role.OWNER


def test_deleting_every_owner_in_bulk_keeps_the_last_one(admin_client, project, owner):
    second = MembershipFactory(project=project, role=Role.OWNER).user
    response = admin_client.post(
        "/admin/labeling/membership/",
        {
            "action": "delete_selected",
            "post": "yes",
            ACTION_CHECKBOX_NAME: list(project.memberships.values_list("pk", flat=True)),
        },
        follow=True,
    )
    assert "A project needs at least one owner." in " ".join(messages_of(response))
    [(user, role)] = project.memberships.values_list("user", "role")
    assert user in (owner.pk, second.pk) and role == Role.OWNER


def test_a_bulk_delete_that_includes_the_only_owner_is_refused(admin_client, project, annotator):
    response = admin_client.post(
        "/admin/labeling/membership/",
        {
            "action": "delete_selected",
            "post": "yes",
            ACTION_CHECKBOX_NAME: list(project.memberships.values_list("pk", flat=True)),
        },
    )
    assert response.status_code == 403
    assert project.memberships.count() == 2


def test_changing_an_images_split_and_label_on_its_page(admin_client, project, labeled):
    other = project.classes.get(name="other")
    response = admin_client.post(
        f"/admin/labeling/image/{labeled.pk}/change/",
        {
            **form_data(admin_client.get(f"/admin/labeling/image/{labeled.pk}/change/")),
            "split": Split.VALIDATION,
            "label": other.pk,
        },
    )
    assert response.status_code == 302
    labeled.refresh_from_db()
    assert (labeled.split, labeled.label, labeled.label_reviewed) == (Split.VALIDATION, other, True)


def test_the_label_choices_on_an_image_page_are_its_projects_classes(admin_client, labeled):
    ProjectFactory(classes=["cat", "dog"])
    response = admin_client.get(f"/admin/labeling/image/{labeled.pk}/change/")
    choices = response.context["adminform"].form.fields["label"].queryset
    assert sorted(choices.values_list("name", flat=True)) == ["coffee", "other"]


def test_deleting_an_annotation_on_the_image_page_re_settles_the_consensus(
    admin_client, project, labeled, annotator
):
    project.annotations_per_image = 2
    project.save()
    data = form_data(admin_client.get(f"/admin/labeling/image/{labeled.pk}/change/"))
    rows = {Annotation.objects.get(pk=data[f"annotations-{n}-id"]).user: n for n in range(2)}
    data[f"annotations-{rows[annotator]}-DELETE"] = "on"
    response = admin_client.post(f"/admin/labeling/image/{labeled.pk}/change/", data)
    assert response.status_code == 302
    labeled.refresh_from_db()
    assert labeled.annotations.count() == 1
    assert labeled.label_status == LabelStatus.UNLABELED


@pytest.mark.parametrize("split", [Split.TRAIN, Split.VALIDATION, Split.TEST])
def test_the_split_actions_move_the_selected_images(admin_client, project, split):
    start = Split.TEST if split == Split.TRAIN else Split.TRAIN
    images = [ImageFactory(project=project, split=start) for _ in range(3)]
    response = admin_client.post(
        "/admin/labeling/image/",
        {"action": f"move_to_{split}", ACTION_CHECKBOX_NAME: [images[0].pk, images[1].pk]},
        follow=True,
    )
    assert f"Moved 2 image(s) to the {split.label.lower()} split." in messages_of(response)
    assert [split_of(image) for image in images] == [split, split, start]


def split_of(image) -> str:
    image.refresh_from_db()
    return image.split


def test_set_label_asks_for_a_class_of_the_images_project(admin_client, project, labeled):
    ProjectFactory(classes=["cat", "dog"])
    images = list(project.images.values_list("pk", flat=True))
    response = admin_client.post(
        "/admin/labeling/image/", {"action": "set_label", ACTION_CHECKBOX_NAME: images}
    )
    assert response.status_code == 200
    assert response.templates[0].name == "admin/labeling/image/set_label.html"
    choices = response.context["form"].fields["label"].queryset
    assert sorted(choices.values_list("name", flat=True)) == ["coffee", "other"]
    assert response.context["count"] == 2
    assert not project.images.filter(label_reviewed=True).exists()


def test_set_label_applies_the_class_as_a_review_decision(admin_client, project, labeled):
    other = project.classes.get(name="other")
    images = list(project.images.values_list("pk", flat=True))
    response = admin_client.post(
        "/admin/labeling/image/",
        {"action": "set_label", ACTION_CHECKBOX_NAME: images, "apply": "1", "label": other.pk},
        follow=True,
    )
    assert "Set the label “other” on 2 image(s)." in messages_of(response)
    assert set(project.images.values_list("label", "label_status", "label_reviewed")) == {
        (other.pk, LabelStatus.LABELED, True)
    }


def test_set_label_refuses_a_class_of_another_project(admin_client, project, labeled):
    cat = ProjectFactory(classes=["cat", "dog"]).classes.get(name="cat")
    response = admin_client.post(
        "/admin/labeling/image/",
        {"action": "set_label", ACTION_CHECKBOX_NAME: [labeled.pk], "apply": "1", "label": cat.pk},
    )
    assert response.status_code == 200
    assert response.context["form"].errors
    labeled.refresh_from_db()
    assert labeled.label_reviewed is False


def test_set_label_refuses_images_of_several_projects(admin_client, project, labeled):
    elsewhere = ImageFactory(project=ProjectFactory(name="Birds", classes=["robin", "wren"]))
    response = admin_client.post(
        "/admin/labeling/image/",
        {"action": "set_label", ACTION_CHECKBOX_NAME: [labeled.pk, elsewhere.pk]},
        follow=True,
    )
    [message] = messages_of(response)
    assert "belong to 2 projects (Birds, Coffee)" in message
    assert "select images of one project" in message


def test_set_label_works_across_every_page_of_a_filter(admin_client, project, labeled):
    coffee = project.classes.get(name="coffee")
    ImageFactory(project=ProjectFactory(name="Birds", classes=["robin", "wren"]))
    response = admin_client.post(
        f"/admin/labeling/image/?project__id__exact={project.pk}",
        {
            "action": "set_label",
            "select_across": "1",
            ACTION_CHECKBOX_NAME: [labeled.pk],
            "apply": "1",
            "label": coffee.pk,
        },
        follow=True,
    )
    assert "Set the label “coffee” on 2 image(s)." in messages_of(response)


def test_withdrawing_a_review_returns_the_image_to_its_consensus(admin_client, project, labeled):
    image_review(image=labeled, label_class=project.classes.get(name="other"))
    response = admin_client.post(
        "/admin/labeling/image/",
        {"action": "withdraw_review", ACTION_CHECKBOX_NAME: [labeled.pk]},
        follow=True,
    )
    assert "Withdrew the review decision on 1 image(s)." in messages_of(response)
    labeled.refresh_from_db()
    assert (labeled.label.name, labeled.label_reviewed) == ("coffee", False)


def test_deleting_annotations_in_the_admin_re_settles_the_consensus(admin_client, labeled):
    response = admin_client.post(
        "/admin/labeling/annotation/",
        {
            "action": "delete_selected",
            "post": "yes",
            ACTION_CHECKBOX_NAME: list(labeled.annotations.values_list("pk", flat=True)),
        },
    )
    assert response.status_code == 302
    labeled.refresh_from_db()
    assert (labeled.annotations.count(), labeled.label_status) == (0, LabelStatus.UNLABELED)


def test_images_cannot_be_added_in_the_admin(admin_client):
    assert admin_client.get("/admin/labeling/image/add/").status_code == 403


def test_label_classes_cannot_be_deleted_in_the_admin(admin_client, project):
    label_class = LabelClass.objects.filter(project=project).first()
    assert (
        admin_client.get(f"/admin/labeling/labelclass/{label_class.pk}/delete/").status_code == 403
    )


def test_the_image_list_takes_the_same_queries_for_few_or_many(
    admin_client, project, owner, django_assert_max_num_queries
):
    coffee = project.classes.first()
    for _ in range(3):
        annotation_create(image=ImageFactory(project=project), user=owner, label_class=coffee)
    with django_assert_max_num_queries(20) as few:
        admin_client.get("/admin/labeling/image/")
    for _ in range(20):
        annotation_create(image=ImageFactory(project=project), user=owner, label_class=coffee)
    with django_assert_max_num_queries(len(few.captured_queries)):
        admin_client.get("/admin/labeling/image/")


def test_memberships_are_filtered_by_role(admin_client, project):
    viewer = MembershipFactory(project=project, role=Role.VIEWER)
    response = admin_client.get("/admin/labeling/membership/?role__exact=viewer")
    assert list(response.context["cl"].result_list) == [viewer]


def test_owners_choose_in_the_admin_where_suggestions_show(admin_client, project):
    page = admin_client.get(f"/admin/labeling/project/{project.pk}/change/")
    data = form_data(page)
    # The defaults: shown on train (a ticked box), blind on test (an unticked one).
    assert "suggestions_train" in data and "suggestions_test" not in data
    del data["suggestions_train"]
    data["suggestions_test"] = "on"

    response = admin_client.post(f"/admin/labeling/project/{project.pk}/change/", data)

    assert response.status_code == 302
    project.refresh_from_db()
    assert project.suggestion_splits == {"train": False, "validation": True, "test": True}
