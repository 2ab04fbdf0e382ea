import pytest

from labeling.models import Membership, Project, Role
from tests.factories import ImageFactory, MembershipFactory, ProjectFactory, UserFactory
from tests.support.responses import assert_json_error


def test_creating_a_project_makes_its_classes_and_its_creator_the_owner(api_as, owner):
    response = api_as(owner).post(
        "/api/projects/", {"name": "Coffee", "classes": ["coffee", "other"]}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    project = Project.objects.get(pk=body["id"])
    assert [(c["name"], c["key"]) for c in body["classes"]] == [("coffee", "1"), ("other", "2")]
    assert body["split_ratios"] == {"train": 60, "validation": 20, "test": 20}
    assert body["annotations_per_image"] == 1
    assert body["role"] == "owner"
    assert body["members"] == [
        {
            "username": owner.username,
            "role": "owner",
            "created_at": body["members"][0]["created_at"],
        }
    ]
    assert Membership.objects.get(project=project).user == owner


def test_a_project_takes_split_ratios_and_annotations_per_image(api_as, owner):
    response = api_as(owner).post(
        "/api/projects/",
        {
            "name": "Birds",
            "classes": ["robin", "wren", "tit"],
            "split_ratios": {"train": 80, "validation": 10, "test": 10},
            "annotations_per_image": 3,
        },
        format="json",
    )
    assert response.status_code == 201
    project = Project.objects.get(pk=response.json()["id"])
    assert (project.train_percent, project.validation_percent, project.test_percent) == (80, 10, 10)
    assert project.annotations_per_image == 3


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"name": "X", "classes": ["only"]}, "at least two"),
        ({"name": "X", "classes": ["a", "A"]}, "unique"),
        ({"name": "X", "classes": [str(n) for n in range(10)]}, "at most nine"),
        ({"name": "X", "classes": ["a", " "]}, "classes"),
        ({"name": "X", "classes": "coffee,other"}, "classes"),
        ({"classes": ["a", "b"]}, "name"),
        ({"name": "x" * 201, "classes": ["a", "b"]}, "name"),
        ({"name": "X", "classes": ["a" * 101, "b"]}, "classes"),
        ({"name": "X", "classes": ["a", "b"], "split_ratios": {"train": 50}}, "add up to 100"),
        ({"name": "X", "classes": ["a", "b"], "split_ratios": {"train": 100, "val": 0}}, "val"),
        ({"name": "X", "classes": ["a", "b"], "split_ratios": {"train": -1}}, "split_ratios"),
        ({"name": "X", "classes": ["a", "b"], "split_ratios": [60, 20, 20]}, "split_ratios"),
        ({"name": "X", "classes": ["a", "b"], "annotations_per_image": 0}, "annotations"),
        ({"name": "X", "classes": ["a", "b"], "annotations_per_image": 99999}, "annotations"),
    ],
)
def test_an_invalid_project_is_a_400_that_says_why(api_as, owner, payload, message):
    response = api_as(owner).post("/api/projects/", payload, format="json")
    assert_json_error(response, 400)
    assert message in str(response.json()["detail"])
    assert not Project.objects.exists()


def test_the_list_holds_only_your_projects_with_your_role_and_counts(api_as, project, viewer):
    ProjectFactory(name="Someone else's")
    ImageFactory(project=project, label=project.classes.first(), label_status="labeled")
    ImageFactory(project=project)
    body = api_as(viewer).get("/api/projects/").json()
    assert body["count"] == 1
    [listed] = body["results"]
    assert (listed["id"], listed["role"]) == (project.pk, "viewer")
    assert (listed["image_count"], listed["labeled_count"]) == (2, 1)


def test_staff_see_every_project_as_owners(api_as, project):
    ProjectFactory(name="Someone else's")
    staff = UserFactory(is_staff=True)
    results = api_as(staff).get("/api/projects/").json()["results"]
    assert [(p["name"], p["role"]) for p in results] == [
        ("Coffee", "owner"),
        ("Someone else's", "owner"),
    ]


def test_listing_projects_takes_the_same_queries_for_one_or_many(
    api_as, owner, django_assert_num_queries
):
    client = api_as(owner)
    ProjectFactory(created_by=owner)
    # token + count + projects (with counts and role) + their classes
    with django_assert_num_queries(4):
        client.get("/api/projects/")
    for _ in range(5):
        ProjectFactory(created_by=owner)
    with django_assert_num_queries(4):
        assert client.get("/api/projects/").json()["count"] == 6


def test_a_project_shows_its_members(api_as, project, owner, annotator, viewer):
    body = api_as(viewer).get(f"/api/projects/{project.pk}/").json()
    assert {(m["username"], m["role"]) for m in body["members"]} == {
        (owner.username, "owner"),
        (annotator.username, "annotator"),
        (viewer.username, "viewer"),
    }


def test_an_owner_adds_a_member(api_as, project, owner):
    newcomer = UserFactory(username="nina")
    response = api_as(owner).post(
        f"/api/projects/{project.pk}/members/",
        {"username": "nina", "role": "annotator"},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["username"] == "nina"
    assert Membership.objects.get(project=project, user=newcomer).role == Role.ANNOTATOR


def test_an_owner_changes_a_members_role(api_as, project, owner, annotator):
    response = api_as(owner).post(
        f"/api/projects/{project.pk}/members/",
        {"username": annotator.username, "role": "viewer"},
        format="json",
    )
    assert response.status_code == 200
    assert Membership.objects.get(project=project, user=annotator).role == Role.VIEWER


def test_members_are_listed(api_as, project, owner, annotator):
    body = api_as(annotator).get(f"/api/projects/{project.pk}/members/").json()
    assert [(m["username"], m["role"]) for m in body] == [
        (annotator.username, "annotator"),
        (owner.username, "owner"),
    ]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"username": "nobody", "role": "viewer"}, "username"),
        ({"username": "nina", "role": "admin"}, "role"),
        ({"role": "viewer"}, "username"),
    ],
)
def test_an_invalid_member_is_a_400(api_as, project, owner, payload, field):
    UserFactory(username="nina")
    response = api_as(owner).post(f"/api/projects/{project.pk}/members/", payload, format="json")
    assert_json_error(response, 400)
    assert field in response.json()["detail"]


def test_the_last_owner_cannot_step_down(api_as, project, owner):
    response = api_as(owner).post(
        f"/api/projects/{project.pk}/members/",
        {"username": owner.username, "role": "viewer"},
        format="json",
    )
    assert_json_error(response, 400)
    assert response.json()["detail"] == "A project needs at least one owner."
    assert Membership.objects.get(project=project, user=owner).role == Role.OWNER


def test_an_owner_steps_down_once_there_is_another(api_as, project, owner):
    MembershipFactory(project=project, role=Role.OWNER)
    response = api_as(owner).post(
        f"/api/projects/{project.pk}/members/",
        {"username": owner.username, "role": "viewer"},
        format="json",
    )
    assert response.status_code == 200
