"""The labeling side's pages through the test client: what each shows and what its forms do."""

import csv
import io
import zipfile

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from labeling.models import Annotation, Image, LabelStatus, Membership, Project, Role, Split
from labeling.services import annotation_create
from tests.factories import ImageFactory, MembershipFactory, ProjectFactory, UserFactory


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# --- Home ------------------------------------------------------------------------------------


def test_home_lists_only_the_users_projects_with_their_progress(client, project, owner):
    other_project = ProjectFactory(name="Not yours")
    images = ImageFactory.create_batch(4, project=project)
    annotation_create(image=images[0], user=owner, label_class=project.classes.first())
    client.force_login(owner)
    response = client.get(reverse("labeling:home"))
    html = response.content.decode()
    assert project.name in html
    assert other_project.name not in html
    listed = response.context["projects"].get()
    assert (listed.labeled_count, listed.image_count, listed.user_role) == (1, 4, Role.OWNER)


def test_home_shows_a_new_project_button_when_there_are_no_projects(client, outsider):
    client.force_login(outsider)
    html = client.get(reverse("labeling:home")).content.decode()
    assert "No projects yet" in html
    assert reverse("labeling:project-create") in html


def test_home_query_count_does_not_grow_with_projects(client, owner, django_assert_max_num_queries):
    for _ in range(8):
        project = ProjectFactory(created_by=owner)
        ImageFactory.create_batch(2, project=project)
    client.force_login(owner)
    # Session, user, the projects with their counts, their classes (one prefetch).
    with django_assert_max_num_queries(4):
        response = client.get(reverse("labeling:home"))
    assert len(response.context["projects"]) == 8


# --- New project ------------------------------------------------------------------------------


def project_form_data(**overrides) -> dict:
    data = {
        "name": "Coffee",
        "description": "Cups or not",
        "train_percent": 60,
        "validation_percent": 20,
        "test_percent": 20,
        "annotations_per_image": 1,
        "classes-TOTAL_FORMS": 2,
        "classes-INITIAL_FORMS": 0,
        "classes-MIN_NUM_FORMS": 2,
        "classes-MAX_NUM_FORMS": 9,
        "classes-0-name": "coffee",
        "classes-0-key": "1",
        "classes-0-color": "#8b5a2b",
        "classes-1-name": "other",
        "classes-1-key": "",
        "classes-1-color": "",
    }
    data.update(overrides)
    return data


def test_creating_a_project_makes_the_creator_its_owner(client, outsider):
    client.force_login(outsider)
    response = client.post(reverse("labeling:project-create"), project_form_data())
    project = Project.objects.get(name="Coffee")
    assert response.status_code == 302
    assert response["Location"] == reverse("labeling:project-upload", args=[project.pk])
    assert Membership.objects.get(project=project).user == outsider
    assert Membership.objects.get(project=project).role == Role.OWNER


def test_creating_a_project_stores_its_classes_with_default_keys_and_colours(client, outsider):
    client.force_login(outsider)
    client.post(reverse("labeling:project-create"), project_form_data())
    classes = list(Project.objects.get(name="Coffee").classes.values_list("name", "key", "color"))
    assert classes[0] == ("coffee", "1", "#8b5a2b")
    assert classes[1][:2] == ("other", "2")
    assert classes[1][2].startswith("#")


def test_a_project_needs_two_classes(client, outsider):
    client.force_login(outsider)
    data = project_form_data(**{"classes-TOTAL_FORMS": 1})
    response = client.post(reverse("labeling:project-create"), data)
    assert response.status_code == 200
    assert not Project.objects.exists()
    assert "A project needs at least two label classes." in response.content.decode()


def test_split_ratios_must_add_up_to_100(client, outsider):
    client.force_login(outsider)
    response = client.post(reverse("labeling:project-create"), project_form_data(test_percent=30))
    assert not Project.objects.exists()
    assert "must add up to 100" in response.content.decode()


def test_class_keys_must_be_unique(client, outsider):
    client.force_login(outsider)
    response = client.post(
        reverse("labeling:project-create"), project_form_data(**{"classes-1-key": "1"})
    )
    assert not Project.objects.exists()
    assert "keys must be unique" in response.content.decode()


def test_the_skip_key_cannot_pick_a_class(client, outsider):
    client.force_login(outsider)
    response = client.post(
        reverse("labeling:project-create"), project_form_data(**{"classes-1-key": "s"})
    )
    assert not Project.objects.exists()
    assert "taken by skip and undo" in response.content.decode()


def test_the_new_project_form_starts_with_default_ratios_and_two_classes(client, outsider):
    client.force_login(outsider)
    response = client.get(reverse("labeling:project-create"))
    assert response.context["form"]["train_percent"].value() == 60
    assert len(response.context["classes"].forms) == 2


# --- Dashboard --------------------------------------------------------------------------------


def test_dashboard_counts_images_per_split_and_class(client, project, owner):
    coffee, other = project.classes.all()
    train = ImageFactory.create_batch(3, project=project, split=Split.TRAIN)
    test = ImageFactory.create_batch(2, project=project, split=Split.TEST)
    annotation_create(image=train[0], user=owner, label_class=coffee)
    annotation_create(image=train[1], user=owner, label_class=other)
    annotation_create(image=test[0], user=owner, label_class=coffee)
    client.force_login(owner)
    table = client.get(reverse("labeling:project-dashboard", args=[project.pk])).context["table"]
    rows = {row["split"]: row for row in table["rows"]}
    assert rows["train"]["per_class"] == [1, 1]
    assert (rows["train"]["unlabeled"], rows["train"]["total"]) == (1, 3)
    assert rows["test"]["per_class"] == [1, 0]
    assert rows["validation"]["total"] == 0
    assert (table["totals"]["labeled"], table["totals"]["total"]) == (3, 5)


def test_dashboard_counts_conflicts(client, project, owner, annotator):
    project.annotations_per_image = 2
    project.save()
    coffee, other = project.classes.all()
    image = ImageFactory(project=project)
    annotation_create(image=image, user=owner, label_class=coffee)
    annotation_create(image=image, user=annotator, label_class=other)
    client.force_login(owner)
    response = client.get(reverse("labeling:project-dashboard", args=[project.pk]))
    assert response.context["table"]["totals"]["conflict"] == 1
    assert list(response.context["conflicts"]) == [image]


def test_dashboard_shows_each_members_contribution(client, project, owner, annotator, viewer):
    coffee = project.classes.first()
    for image in ImageFactory.create_batch(3, project=project):
        annotation_create(image=image, user=annotator, label_class=coffee)
    annotation_create(image=ImageFactory(project=project), user=owner, label_class=coffee)
    client.force_login(viewer)
    members = client.get(reverse("labeling:project-dashboard", args=[project.pk])).context[
        "members"
    ]
    contributions = {m.user.username: m.annotation_count for m in members}
    assert contributions == {annotator.username: 3, owner.username: 1, viewer.username: 0}
    assert members[0].user == annotator


def test_dashboard_contributions_count_only_this_projects_annotations(client, project, owner):
    elsewhere = ProjectFactory(created_by=owner)
    annotation_create(
        image=ImageFactory(project=elsewhere), user=owner, label_class=elsewhere.classes.first()
    )
    client.force_login(owner)
    members = client.get(reverse("labeling:project-dashboard", args=[project.pk])).context[
        "members"
    ]
    assert members[0].annotation_count == 0


def test_dashboard_recent_activity_groups_labels_and_uploads(client, project, owner, annotator):
    coffee, other = project.classes.all()
    images = ImageFactory.create_batch(3, project=project, uploaded_by=owner)
    annotation_create(image=images[0], user=annotator, label_class=coffee)
    annotation_create(image=images[1], user=annotator, label_class=other)
    client.force_login(owner)
    activity = client.get(reverse("labeling:project-dashboard", args=[project.pk])).context[
        "activity"
    ]
    labeling = [event for event in activity if event["kind"] == "annotation"]
    uploads = [event for event in activity if event["kind"] == "upload"]
    assert [(e["user"], e["count"]) for e in labeling] == [(annotator.username, 2)]
    assert {part["name"] for part in labeling[0]["per_class"]} == {"coffee", "other"}
    assert [(e["user"], e["count"]) for e in uploads] == [(owner.username, 3)]


def test_owners_see_member_management_and_viewers_do_not(client, project, owner, viewer):
    url = reverse("labeling:project-dashboard", args=[project.pk])
    client.force_login(owner)
    assert 'id="member-add"' in client.get(url).content.decode()
    client.force_login(viewer)
    html = client.get(url).content.decode()
    assert 'id="member-add"' not in html
    assert reverse("labeling:project-label", args=[project.pk]) not in html
    assert reverse("labeling:project-gallery", args=[project.pk]) in html


def test_dashboard_leaves_a_place_for_the_classifier_panel(client, project, owner):
    client.force_login(owner)
    response = client.get(reverse("labeling:project-dashboard", args=[project.pk]))
    assert "classifier/_project_dashboard_panel.html" in [t.name for t in response.templates]


def test_dashboard_query_count_does_not_grow_with_images_or_members(
    client, project, owner, django_assert_max_num_queries
):
    coffee = project.classes.first()
    for _ in range(5):
        MembershipFactory(project=project, role=Role.ANNOTATOR)
    for image in ImageFactory.create_batch(12, project=project):
        annotation_create(image=image, user=owner, label_class=coffee)
    client.force_login(owner)
    # Labeling's 11, the classifier's model card's 2 and its data-health card's 2
    # (classifier.selectors).
    with django_assert_max_num_queries(15):
        client.get(reverse("labeling:project-dashboard", args=[project.pk]))


# --- Members ----------------------------------------------------------------------------------


def test_an_owner_adds_a_member_by_username(client, project, owner, outsider):
    client.force_login(owner)
    client.post(
        reverse("labeling:project-member-add", args=[project.pk]),
        {"username": outsider.username, "role": Role.VIEWER},
    )
    assert Membership.objects.get(project=project, user=outsider).role == Role.VIEWER


def test_adding_an_unknown_username_says_so(client, project, owner):
    client.force_login(owner)
    response = client.post(
        reverse("labeling:project-member-add", args=[project.pk]),
        {"username": "nobody", "role": "viewer"},
    )
    assert any("no user called 'nobody'" in message for message in messages_of(response))
    assert Membership.objects.filter(project=project).count() == 1


def test_an_owner_changes_a_members_role(client, project, owner, annotator):
    client.force_login(owner)
    client.post(
        reverse("labeling:project-member-role", args=[project.pk, annotator.pk]),
        {"role": Role.OWNER},
    )
    assert Membership.objects.get(project=project, user=annotator).role == Role.OWNER


def test_the_last_owner_cannot_be_demoted(client, project, owner):
    client.force_login(owner)
    response = client.post(
        reverse("labeling:project-member-role", args=[project.pk, owner.pk]), {"role": Role.VIEWER}
    )
    assert Membership.objects.get(project=project, user=owner).role == Role.OWNER
    assert any("at least one owner" in message for message in messages_of(response))


def test_an_owner_removes_a_member(client, project, owner, annotator):
    client.force_login(owner)
    client.post(reverse("labeling:project-member-remove", args=[project.pk, annotator.pk]))
    assert not Membership.objects.filter(project=project, user=annotator).exists()


def test_changing_the_role_of_a_non_member_is_not_found(client, project, owner, outsider):
    client.force_login(owner)
    response = client.post(
        reverse("labeling:project-member-role", args=[project.pk, outsider.pk]),
        {"role": Role.OWNER},
    )
    assert response.status_code == 404
    assert not Membership.objects.filter(user=outsider).exists()


# --- Upload page ------------------------------------------------------------------------------


def test_upload_page_offers_auto_and_every_split_and_the_projects_classes(
    client, project, annotator
):
    client.force_login(annotator)
    form = client.get(reverse("labeling:project-upload", args=[project.pk])).context["form"]
    assert [value for value, _ in form.fields["split"].choices] == [
        "auto",
        "train",
        "validation",
        "test",
    ]
    assert set(form.fields["label"].queryset) == set(project.classes.all())


# --- Grid and gallery -------------------------------------------------------------------------


def grid_ids(response) -> list[int]:
    return [image.pk for image in response.context["page"].object_list]


def test_grid_filters_by_split_status_and_label(client, project, owner):
    coffee, other = project.classes.all()
    train_coffee = ImageFactory(project=project, split=Split.TRAIN)
    train_other = ImageFactory(project=project, split=Split.TRAIN)
    test_unlabeled = ImageFactory(project=project, split=Split.TEST)
    annotation_create(image=train_coffee, user=owner, label_class=coffee)
    annotation_create(image=train_other, user=owner, label_class=other)
    client.force_login(owner)
    url = reverse("labeling:project-grid", args=[project.pk])
    assert grid_ids(client.get(url, {"split": "test"})) == [test_unlabeled.pk]
    assert grid_ids(client.get(url, {"status": "labeled"})) == [train_coffee.pk, train_other.pk]
    assert grid_ids(client.get(url, {"label": other.pk})) == [train_other.pk]
    assert grid_ids(client.get(url, {"split": "train", "label": coffee.pk})) == [train_coffee.pk]


def test_grid_filters_what_i_have_not_labeled(client, project, owner, annotator):
    coffee = project.classes.first()
    mine, theirs = ImageFactory.create_batch(2, project=project)
    annotation_create(image=mine, user=annotator, label_class=coffee)
    annotation_create(image=theirs, user=owner, label_class=coffee)
    client.force_login(annotator)
    url = reverse("labeling:project-grid", args=[project.pk])
    assert grid_ids(client.get(url, {"mine": "unlabeled"})) == [theirs.pk]
    assert grid_ids(client.get(url, {"mine": "labeled"})) == [mine.pk]


def test_grid_ignores_an_invalid_filter_value(client, project, owner):
    image = ImageFactory(project=project)
    client.force_login(owner)
    response = client.get(
        reverse("labeling:project-grid", args=[project.pk]), {"split": "nonsense"}
    )
    assert grid_ids(response) == [image.pk]


def test_grid_applies_a_class_to_the_selected_images(client, project, annotator):
    other = project.classes.get(name="other")
    chosen = ImageFactory.create_batch(3, project=project)
    left_alone = ImageFactory(project=project)
    client.force_login(annotator)
    next_url = reverse("labeling:project-grid", args=[project.pk]) + "?status=unlabeled"
    response = client.post(
        reverse("labeling:project-grid-apply", args=[project.pk]),
        {"image_ids": [image.pk for image in chosen], "label_class": other.pk, "next": next_url},
    )
    assert response["Location"] == next_url
    labeled = Annotation.objects.filter(user=annotator, label_class=other)
    assert set(labeled.values_list("image_id", flat=True)) == {image.pk for image in chosen}
    assert Image.objects.get(pk=left_alone.pk).label_status == LabelStatus.UNLABELED


def test_grid_apply_leaves_other_projects_images_alone(client, project, annotator):
    foreign = ImageFactory(project=ProjectFactory())
    client.force_login(annotator)
    client.post(
        reverse("labeling:project-grid-apply", args=[project.pk]),
        {"image_ids": [foreign.pk], "label_class": project.classes.first().pk},
    )
    assert not Annotation.objects.exists()


def test_grid_apply_without_a_selection_says_so(client, project, annotator):
    client.force_login(annotator)
    response = client.post(
        reverse("labeling:project-grid-apply", args=[project.pk]),
        {"label_class": project.classes.first().pk},
    )
    assert "Select at least one image." in messages_of(response)


def test_grid_apply_refuses_a_class_of_another_project(client, project, annotator):
    image = ImageFactory(project=project)
    client.force_login(annotator)
    client.post(
        reverse("labeling:project-grid-apply", args=[project.pk]),
        {"image_ids": [image.pk], "label_class": ProjectFactory().classes.first().pk},
    )
    assert not Annotation.objects.exists()


def test_grid_apply_does_not_redirect_to_another_site(client, project, annotator):
    client.force_login(annotator)
    response = client.post(
        reverse("labeling:project-grid-apply", args=[project.pk]),
        {"image_ids": [ImageFactory(project=project).pk], "label_class": project.classes.first().pk,
         "next": "https://evil.example/"},
    )  # fmt: skip
    assert response["Location"] == reverse("labeling:project-grid", args=[project.pk])


def test_gallery_is_read_only(client, project, viewer):
    ImageFactory(project=project)
    client.force_login(viewer)
    html = client.get(reverse("labeling:project-gallery", args=[project.pk])).content.decode()
    assert reverse("labeling:project-grid-apply", args=[project.pk]) not in html
    assert 'name="image_ids"' not in html


@pytest.mark.parametrize("url_name", ["labeling:project-grid", "labeling:project-gallery"])
def test_grid_and_gallery_query_count_does_not_grow_with_images(
    client, project, owner, django_assert_max_num_queries, url_name
):
    coffee = project.classes.first()
    for image in ImageFactory.create_batch(30, project=project):
        annotation_create(image=image, user=owner, label_class=coffee)
    client.force_login(owner)
    # 9 (the page's ids, then its rows: labeling.selectors.ImagePaginator), and 1 for the
    # classifier's "predicted class" menu (classifier.image_filters).
    with django_assert_max_num_queries(10):
        response = client.get(reverse(url_name, args=[project.pk]), {"status": "labeled"})
    assert len(response.context["page"].object_list) == 30


def test_grid_pages_hold_48_images(client, project, owner):
    ImageFactory.create_batch(50, project=project)
    client.force_login(owner)
    url = reverse("labeling:project-grid", args=[project.pk])
    assert len(client.get(url).context["page"].object_list) == 48
    assert len(client.get(url, {"page": 2}).context["page"].object_list) == 2


def test_gallery_pages_follow_the_upload_order_of_the_filtered_images(
    client, project, owner, annotator
):
    coffee = project.classes.first()
    images = ImageFactory.create_batch(100, project=project)
    for image in images[::2]:
        annotation_create(image=image, user=owner, label_class=coffee)
    annotation_create(image=images[96], user=annotator, label_class=coffee)
    client.force_login(owner)
    url = reverse("labeling:project-gallery", args=[project.pk])
    second = client.get(url, {"status": "labeled", "page": 2}).context["page"]
    assert [image.pk for image in second.object_list] == [i.pk for i in images[96::2]]
    assert [image.annotation_count for image in second.object_list] == [2, 1]
    assert second.paginator.count == 50


# --- Image page -------------------------------------------------------------------------------


def test_image_page_lists_who_labeled_it_with_what(client, project, owner, annotator, viewer):
    coffee, other = project.classes.all()
    image = ImageFactory(project=project)
    annotation_create(image=image, user=owner, label_class=coffee)
    annotation_create(image=image, user=annotator, label_class=other)
    client.force_login(viewer)
    response = client.get(reverse("labeling:image-detail", args=[image.pk]))
    rows = [(a.user.username, a.label_class.name) for a in response.context["annotations"]]
    assert rows == [(owner.username, "coffee"), (annotator.username, "other")]
    assert 'id="review-form"' not in response.content.decode()


def test_image_page_leaves_a_place_for_predictions(client, project, owner):
    client.force_login(owner)
    response = client.get(reverse("labeling:image-detail", args=[ImageFactory(project=project).pk]))
    assert "classifier/_image_predictions_panel.html" in [t.name for t in response.templates]


def test_an_owner_reviews_an_image(client, project, owner):
    other = project.classes.get(name="other")
    image = ImageFactory(project=project)
    client.force_login(owner)
    client.post(reverse("labeling:image-review", args=[image.pk]), {"label_class": other.pk})
    image.refresh_from_db()
    assert (image.label, image.label_status, image.label_reviewed) == (
        other,
        LabelStatus.LABELED,
        True,
    )


def test_an_owner_withdraws_a_review(client, project, owner):
    image = ImageFactory(project=project)
    client.force_login(owner)
    client.post(
        reverse("labeling:image-review", args=[image.pk]),
        {"label_class": project.classes.first().pk},
    )
    client.post(reverse("labeling:image-review", args=[image.pk]), {"label_class": ""})
    image.refresh_from_db()
    assert (image.label, image.label_reviewed) == (None, False)


def test_reviewing_from_the_dashboard_returns_to_the_conflicts(client, project, owner):
    image = ImageFactory(project=project)
    client.force_login(owner)
    next_url = reverse("labeling:project-dashboard", args=[project.pk]) + "#conflicts"
    response = client.post(
        reverse("labeling:image-review", args=[image.pk]),
        {"label_class": project.classes.first().pk, "next": next_url},
    )
    assert response["Location"] == next_url


def test_an_owner_moves_an_image_to_another_split(client, project, owner):
    image = ImageFactory(project=project, split=Split.TRAIN)
    client.force_login(owner)
    client.post(reverse("labeling:image-split", args=[image.pk]), {"split": Split.VALIDATION})
    image.refresh_from_db()
    assert image.split == Split.VALIDATION


def test_moving_to_an_unknown_split_changes_nothing(client, project, owner):
    image = ImageFactory(project=project, split=Split.TRAIN)
    client.force_login(owner)
    client.post(reverse("labeling:image-split", args=[image.pk]), {"split": "holdout"})
    image.refresh_from_db()
    assert image.split == Split.TRAIN


def test_a_non_members_image_page_is_not_found(client, project, outsider):
    client.force_login(outsider)
    response = client.get(reverse("labeling:image-detail", args=[ImageFactory(project=project).pk]))
    assert response.status_code == 404
    assert "Nothing here" in response.content.decode()


def test_a_staff_user_sees_every_project(client, project):
    staff = UserFactory(username="stella", is_staff=True)
    client.force_login(staff)
    assert project in client.get(reverse("labeling:home")).context["projects"]


# --- Export -----------------------------------------------------------------------------------


def download(response) -> bytes:
    return b"".join(response.streaming_content)


def test_an_owner_downloads_the_labels_as_csv(client, project, owner):
    image = ImageFactory(project=project, original_name="cup.png")
    annotation_create(image=image, user=owner, label_class=project.classes.get(name="coffee"))
    client.force_login(owner)
    response = client.get(reverse("labeling:project-export", args=[project.pk, "csv"]))
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith("attachment; filename=")
    rows = list(csv.DictReader(io.StringIO(download(response).decode())))
    assert [(row["original_name"], row["label"]) for row in rows] == [("cup.png", "coffee")]


def test_an_owner_downloads_the_labeled_images_as_an_imagefolder_zip(client, project, owner):
    image = ImageFactory(project=project, split=Split.TEST)
    ImageFactory(project=project)  # unlabeled: not in the dataset
    annotation_create(image=image, user=owner, label_class=project.classes.get(name="other"))
    client.force_login(owner)
    response = client.get(reverse("labeling:project-export", args=[project.pk, "zip"]))
    entries = zipfile.ZipFile(io.BytesIO(download(response))).namelist()
    names = [name for name in entries if not name.endswith("/")]  # not the split x class folders
    assert len(names) == 1
    assert names[0].startswith("test/other/")


def test_an_unknown_export_format_is_not_found(client, project, owner):
    client.force_login(owner)
    assert (
        client.get(reverse("labeling:project-export", args=[project.pk, "xlsx"])).status_code == 404
    )


def test_the_dashboard_links_every_export_for_owners(client, project, owner, annotator):
    url = reverse("labeling:project-dashboard", args=[project.pk])
    client.force_login(owner)
    html = client.get(url).content.decode()
    for format in ("zip", "csv", "json"):
        assert reverse("labeling:project-export", args=[project.pk, format]) in html
    client.force_login(annotator)
    assert (
        reverse("labeling:project-export", args=[project.pk, "csv"])
        not in client.get(url).content.decode()
    )


def test_one_persons_label_is_not_called_a_consensus(client, project, owner, annotator):
    from labeling.services import annotation_create
    from tests.factories import ImageFactory

    image = ImageFactory(project=project)
    coffee = project.classes.get(name="coffee")
    annotation_create(image=image, user=annotator, label_class=coffee)
    client.force_login(owner)
    page = client.get(reverse("labeling:image-detail", args=[image.pk])).content.decode()
    assert "labeled by ann-annotator" in page
    assert "consensus" not in page.split('id="consensus"')[1].split("</div>")[0]

    annotation_create(image=image, user=owner, label_class=coffee)
    page = client.get(reverse("labeling:image-detail", args=[image.pk])).content.decode()
    assert "by consensus of 2 people" in page
