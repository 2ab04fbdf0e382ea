"""The dashboard's recent activity reads only the newest rows, as many as it takes, and never
shows a group cut short (labeling.selectors.project_recent_activity)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from labeling import selectors
from labeling.models import Annotation, Image
from labeling.selectors import activity
from labeling.services import annotation_create
from tests.factories import ImageFactory, UserFactory

START = timezone.now().replace(second=0, microsecond=0) - timedelta(hours=1)


@pytest.fixture
def small_windows(monkeypatch):
    """Read 3 rows first, then 6, then all: small enough to cut through the groups below."""
    monkeypatch.setattr(activity, "ACTIVITY_WINDOWS", (3, 6, None))


def label_at(project, user, minute: int, count: int, label_name: str = "coffee") -> None:
    """`count` images uploaded by the project's owner at START + `minute` minutes (a second
    apart), each labeled by `user` 30 seconds after its upload, in the same minute."""
    label_class = project.classes.get(name=label_name)
    for second in range(count):
        at = START + timedelta(minutes=minute, seconds=second)
        image = ImageFactory(project=project)
        Image.objects.filter(pk=image.pk).update(created_at=at)
        annotation_create(image=image, user=user, label_class=label_class)
        labeled_at = at + timedelta(seconds=30)
        Annotation.objects.filter(image=image, user=user).update(updated_at=labeled_at)


def labeling(activity) -> list[tuple[str, int, dict]]:
    return [
        (
            event["user"],
            event["count"],
            {part["name"]: part["count"] for part in event["per_class"]},
        )
        for event in activity
        if event["kind"] == "annotation"
    ]


def test_a_burst_longer_than_the_first_rows_read_is_counted_whole(project, small_windows):
    ann, ben = UserFactory(username="ann"), UserFactory(username="ben")
    label_at(project, ben, minute=0, count=1)
    label_at(project, ann, minute=1, count=4, label_name="coffee")
    label_at(project, ann, minute=1, count=1, label_name="other")

    activity = selectors.project_recent_activity(project=project, limit=2)

    assert labeling(activity) == [("ann", 5, {"coffee": 4, "other": 1})]
    assert [event["kind"] for event in activity] == ["annotation", "upload"]


def test_every_group_shown_is_complete_when_the_window_ends_inside_a_minute(project, small_windows):
    ann, ben, cleo = (UserFactory(username=name) for name in ("ann", "ben", "cleo"))
    label_at(project, cleo, minute=0, count=2)
    label_at(project, ben, minute=1, count=2)
    label_at(project, ann, minute=2, count=2)
    Image.objects.update(created_at=START - timedelta(days=1))  # uploads long before

    # The first 3 rows read hold ann's 2 and one of ben's: ben's group is not shown from them.
    events = labeling(selectors.project_recent_activity(project=project, limit=2))

    assert events == [("ann", 2, {"coffee": 2}), ("ben", 2, {"coffee": 2})]


def test_the_newest_groups_come_first_up_to_the_limit(project, small_windows):
    users = [UserFactory(username=f"user{n}") for n in range(4)]
    for minute, user in enumerate(users):
        label_at(project, user, minute=minute, count=1)

    events = labeling(selectors.project_recent_activity(project=project, limit=6))

    assert [user for user, _, _ in events] == ["user3", "user2", "user1"]


def test_uploads_are_grouped_per_uploader_and_minute(project, small_windows):
    for minute in range(2):
        for second in range(4):
            image = ImageFactory(project=project)
            at = START + timedelta(minutes=minute, seconds=second)
            Image.objects.filter(pk=image.pk).update(created_at=at)

    activity = selectors.project_recent_activity(project=project)

    owner = project.created_by.username
    assert [(e["kind"], e["user"], e["count"]) for e in activity] == [
        ("upload", owner, 4),
        ("upload", owner, 4),
    ]
