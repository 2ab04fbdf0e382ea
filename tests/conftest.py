import pytest

from labeling.models import Role
from tests.factories import MembershipFactory, ProjectFactory, UserFactory


@pytest.fixture
def owner(db):
    return UserFactory(username="olivia-owner")


@pytest.fixture
def project(owner):
    return ProjectFactory(name="Coffee", created_by=owner)


@pytest.fixture
def annotator(project):
    return MembershipFactory(project=project, user=UserFactory(username="ann-annotator"), role=Role.ANNOTATOR).user


@pytest.fixture
def viewer(project):
    return MembershipFactory(project=project, user=UserFactory(username="victor-viewer"), role=Role.VIEWER).user


@pytest.fixture
def outsider(db):
    return UserFactory(username="oscar-outsider")
