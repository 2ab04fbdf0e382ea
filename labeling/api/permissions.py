"""The API's answer to "may this user do this here?", built on labeling.permissions.

Anonymous callers get 401 (IsAuthenticated runs first), users outside the project get 404 so
a project's existence is not leaked (the view's `get_project()` only finds projects the user
can see), and members whose role is too low get 403.
"""

from rest_framework.permissions import BasePermission

from labeling.models import Role
from labeling.permissions import project_role, role_allows


class HasProjectRole(BasePermission):
    """The user's role in the view's project must reach the role the view requires for the
    request's method.

    The view provides `get_project()` (raising Http404 for a project the user cannot see) and
    `required_roles`, {HTTP method: role}. HEAD and OPTIONS need what GET needs; a handler the
    view does not list needs an owner, so a new handler is closed until someone opens it.
    """

    def has_permission(self, request, view) -> bool:
        method = "GET" if request.method in ("HEAD", "OPTIONS") else request.method
        project = view.get_project()
        if not hasattr(view, method.lower()):
            return True  # any member then learns it is a 405, whatever their role
        needed = view.required_roles.get(method, Role.OWNER)
        return role_allows(project_role(user=request.user, project=project), needed)
