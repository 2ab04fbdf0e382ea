from pathlib import Path

import pytest

from labeling.models import Role
from tests.factories import MembershipFactory, ProjectFactory, UserFactory
from tests.support.availability import not_available_here


@pytest.fixture
def owner(db):
    return UserFactory(username="olivia-owner")


@pytest.fixture
def project(owner):
    return ProjectFactory(name="Coffee", created_by=owner)


@pytest.fixture
def annotator(project):
    user = UserFactory(username="ann-annotator")
    return MembershipFactory(project=project, user=user, role=Role.ANNOTATOR).user


@pytest.fixture
def viewer(project):
    user = UserFactory(username="victor-viewer")
    return MembershipFactory(project=project, user=user, role=Role.VIEWER).user


@pytest.fixture
def outsider(db):
    return UserFactory(username="oscar-outsider")


CHROMIUM = Path("/usr/bin/chromium")


def pytest_runtest_setup(item):
    """Browser tests need Debian's chromium, which `make test` installs when it can."""
    if item.get_closest_marker("browser") is None or CHROMIUM.exists():
        return
    not_available_here(
        f"{CHROMIUM} is missing (install it: sudo apt-get install chromium)",
        what="browser test",
    )


def pytest_collection_modifyitems(items):
    """Schemathesis names one item per API operation ("test[GET /api/projects/]"), but on
    pytest 9.2 their node ids all come out as the bare function name: give each its
    operation back, so reports, -k and --lf tell them apart."""
    for item in items:
        label = getattr(item, "operation_label", None)
        if label and not item.nodeid.endswith("]"):
            item._id = item.parent.id.child(item.originalname).with_params(label)
