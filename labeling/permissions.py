"""Who may do what in a project. One place, used by views, the API and the media view.

Roles: owner (everything, incl. members, classes, splits, review, retraining), annotator
(upload, label), viewer (read). Staff users act as owners everywhere; non-members see nothing.
"""

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied

from labeling.models import Membership, Project, Role

_RANK = {Role.VIEWER: 1, Role.ANNOTATOR: 2, Role.OWNER: 3}


def project_role(*, user: User | AnonymousUser, project: Project | int) -> str | None:
    """The user's role in the project, "owner" for staff, None for outsiders."""
    if not user.is_authenticated:
        return None
    if user.is_staff:
        return Role.OWNER
    project_id = project if isinstance(project, int) else project.pk
    return (
        Membership.objects.filter(project_id=project_id, user=user)
        .order_by()  # Membership's default ordering would join the project table for nothing
        .values_list("role", flat=True)
        .first()
    )


def user_authenticated(user: User | AnonymousUser) -> User:
    """`request.user` of a view that requires a signed-in user (login_required, DRF's
    IsAuthenticated), as the User it is there; PermissionDenied (403) for an anonymous one,
    which those views have already turned away."""
    if not isinstance(user, User):
        raise PermissionDenied
    return user


def role_allows(role: str | None, needed: str) -> bool:
    return role is not None and _RANK[Role(role)] >= _RANK[Role(needed)]


def can_view(*, user, project) -> bool:
    return role_allows(project_role(user=user, project=project), Role.VIEWER)


def can_annotate(*, user, project) -> bool:
    return role_allows(project_role(user=user, project=project), Role.ANNOTATOR)


def can_manage(*, user, project) -> bool:
    return role_allows(project_role(user=user, project=project), Role.OWNER)
