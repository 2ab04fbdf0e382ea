"""Project names are unique per owner (case aside): two "Coffee or not" projects of one owner
would look identical on the home page and in the admin. The services, the new-project and
settings pages, the API and the admin all say so in words; the migration renames existing
duplicates before adding the constraint."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection
from django.db.migrations.executor import MigrationExecutor
from rest_framework.test import APIClient

from labeling.models import Project
from labeling.services import project_create, project_update
from tests.factories import ProjectFactory, UserFactory

TAKEN = "already has a project called “Coffee”. Choose another name."


def test_an_owner_cannot_create_two_projects_of_one_name(project, owner):
    with pytest.raises(ValidationError, match=TAKEN):
        project_create(name=" coffee ", created_by=owner, classes=["a", "b"])


def test_another_owner_may_use_the_name(project):
    other = project_create(name="Coffee", created_by=UserFactory(), classes=["a", "b"])
    assert other.name == "Coffee"


def test_renaming_onto_another_project_of_the_owner_is_refused(project, owner):
    mugs = ProjectFactory(name="Mugs", created_by=owner)
    with pytest.raises(ValidationError, match=TAKEN):
        project_update(
            project=mugs,
            name="COFFEE",
            description="",
            split_ratios={"train": 60, "validation": 20, "test": 20},
            annotations_per_image=1,
        )


def test_the_database_refuses_a_duplicate_too(project, owner):
    with pytest.raises(IntegrityError):
        Project.objects.create(name="coffee", created_by=owner)


def test_the_new_project_page_shows_the_error_on_the_name(client, project, owner):
    client.force_login(owner)
    response = client.post(
        "/projects/new/",
        {
            "name": "Coffee",
            "train_percent": 60,
            "validation_percent": 20,
            "test_percent": 20,
            "annotations_per_image": 1,
            "classes-TOTAL_FORMS": 2,
            "classes-INITIAL_FORMS": 0,
            "classes-0-name": "a",
            "classes-1-name": "b",
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["name"] == [f"olivia-owner {TAKEN}"]


def test_the_api_answers_400_with_the_reason(project, owner):
    client = APIClient()
    client.force_authenticate(owner)
    response = client.post(
        "/api/projects/", {"name": "Coffee", "classes": ["a", "b"]}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"detail": f"olivia-owner {TAKEN}"}


def test_the_admin_refuses_a_duplicate_for_the_staff_member_creating_it(admin_client, admin_user):
    ProjectFactory(name="Coffee", created_by=admin_user)
    data = {
        "name": "coffee",
        "classes": "a, b",
        "train_percent": 60,
        "validation_percent": 20,
        "test_percent": 20,
        "annotations_per_image": 1,
    }
    response = admin_client.post("/admin/labeling/project/add/", data)
    assert response.status_code == 200
    assert "already has a project called “Coffee”" in response.content.decode()
    assert Project.objects.count() == 1


def test_the_admin_refuses_renaming_onto_the_owners_other_project(admin_client, project, owner):
    mugs = ProjectFactory(name="Mugs", created_by=owner)
    from tests.labeling.admin.test_admin import form_data

    page = admin_client.get(f"/admin/labeling/project/{mugs.pk}/change/")
    response = admin_client.post(
        f"/admin/labeling/project/{mugs.pk}/change/", {**form_data(page), "name": "Coffee"}
    )
    assert response.status_code == 200
    assert f"olivia-owner {TAKEN}" in response.content.decode()
    mugs.refresh_from_db()
    assert mugs.name == "Mugs"


@pytest.mark.django_db(transaction=True)
def test_the_migration_renames_existing_duplicates():
    before, after = (
        [("labeling", "0002_image_list_indexes")],
        [("labeling", "0003_project_unique_name_per_owner")],
    )
    try:
        executor = MigrationExecutor(connection)
        executor.migrate(before)
        executor.loader.build_graph()
        old_apps = executor.loader.project_state(before).apps
        User = old_apps.get_model("auth", "User")
        OldProject = old_apps.get_model("labeling", "Project")
        ana, ben = User.objects.create(username="ana"), User.objects.create(username="ben")
        for owner, name in [
            (ana, "Coffee or not"),
            (ana, "coffee or not"),
            (ana, "Coffee or not (2)"),  # the suffix it would have picked is taken
            (ana, "Coffee or not"),
            (ben, "Coffee or not"),
        ]:
            OldProject.objects.create(name=name, created_by=owner)

        executor = MigrationExecutor(connection)
        executor.migrate(after)
        names = list(Project.objects.order_by("pk").values_list("created_by__username", "name"))
        assert names == [
            ("ana", "Coffee or not"),
            ("ana", "coffee or not (3)"),
            ("ana", "Coffee or not (2)"),
            ("ana", "Coffee or not (4)"),
            ("ben", "Coffee or not"),
        ]
    finally:
        # Every app back at its latest migration: the next tests need the whole schema.
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
