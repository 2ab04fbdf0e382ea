"""Command-line arguments shared by the labeling management commands."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.management.base import CommandError

from labeling.models import Membership, Project, Role


def project_from_argument(value: str) -> Project:
    """The project named by its id or its exact name."""
    if value.isdigit():
        project = Project.objects.filter(pk=int(value)).first()
        if project is not None:
            return project
    matches = list(Project.objects.filter(name=value))
    if len(matches) == 1:
        return matches[0]
    if matches:
        ids = ", ".join(str(project.pk) for project in matches)
        raise CommandError(f"{len(matches)} projects are named {value!r} (ids {ids}); use the id.")
    raise CommandError(f"No project with id or name {value!r}.")


def user_from_argument(value: str | None, *, project: Project) -> User:
    """The user named by username, or the project's first owner when none is named."""
    if value is None:
        membership = (
            Membership.objects.filter(project=project, role=Role.OWNER)
            .select_related("user")
            .order_by("created_at", "pk")
            .first()
        )
        if membership is None:
            raise CommandError(f"Project {project.name!r} has no owner; name a user with --user.")
        return membership.user
    user = get_user_model().objects.filter(username=value).first()
    if user is None:
        raise CommandError(f"No user named {value!r}.")
    return user
