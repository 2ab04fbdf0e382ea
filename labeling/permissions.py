"""Who may do what in a project. One place, used by both apps' pages, their APIs, the
labeling page's JSON endpoints and the media views.

Roles: owner (everything, incl. members, classes, splits, review, retraining), annotator
(upload, label), viewer (read). Staff users act as owners everywhere; non-members see nothing:
a project a user does not belong to does not exist for them (404), and a member whose role is
too low for what they ask gets 403.
"""

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404

from labeling.models import Image, Membership, Project, Role

_RANK = {Role.VIEWER: 1, Role.ANNOTATOR: 2, Role.OWNER: 3}

# request.user: signed in or not.
AnyUser = User | AnonymousUser


class AuthenticatedHttpRequest(HttpRequest):
    """The request of a page behind the login, as django-stubs documents it for such views:
    its `user` is a User. LoginRequiredExceptApiMiddleware turns anonymous visitors away
    before every page view not marked login_not_required (media URLs also accept the API
    token, which yields a User as well), and the admin lets in signed-in staff only. Only an
    annotation: Django passes its own HttpRequest."""

    user: User


def project_role(*, user: AnyUser, project: Project | int) -> str | None:
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


def user_authenticated(user: AnyUser) -> User:
    """`request.user` of a view that requires a signed-in user (login_required, DRF's
    IsAuthenticated), as the User it is there; PermissionDenied (403) for an anonymous one,
    which those views have already turned away."""
    if not isinstance(user, User):
        raise PermissionDenied
    return user


def role_allows(role: str | None, needed: str) -> bool:
    return role is not None and _RANK[Role(role)] >= _RANK[Role(needed)]


def project_role_required(*, user: AnyUser, project: Project | int, needed: str) -> str:
    """The user's role in the project, when it reaches `needed`. Http404 for a user outside
    the project, PermissionDenied for a role too low; pages show the message, the APIs'
    exception handler answers its standard 404 or 403."""
    role = project_role(user=user, project=project)
    if role is None:
        raise Http404("No such project.")
    if not role_allows(role, needed):
        raise PermissionDenied(f"This needs the {Role(needed).label.lower()} role.")
    return role


def project_for_user(*, user: AnyUser, pk: int, needed: str = Role.VIEWER) -> tuple[Project, str]:
    """The project and the user's role in it, as project_role_required allows (404 when no
    such project exists either)."""
    project = get_object_or_404(Project, pk=pk)
    return project, project_role_required(user=user, project=project, needed=needed)


def image_for_user(*, user: AnyUser, pk: int, needed: str = Role.VIEWER) -> tuple[Image, str]:
    """The image (with its project, label and uploader) and the user's role in its project,
    as project_for_user."""
    image = get_object_or_404(
        Image.objects.select_related("project", "label", "uploaded_by"), pk=pk
    )
    return image, project_role_required(user=user, project=image.project, needed=needed)


def can_annotate(*, user: AnyUser, project: Project | int) -> bool:
    return role_allows(project_role(user=user, project=project), Role.ANNOTATOR)
