from django.conf import settings
from django.contrib import admin
from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.contrib.auth.views import redirect_to_login
from django.urls import reverse
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed


class LoginRequiredExceptApiMiddleware(LoginRequiredMiddleware):
    """Django's login-required-everywhere, except the API.

    API requests authenticate with a token inside DRF, after middleware has run, and answer
    an anonymous caller with a JSON 401 rather than a redirect to the login page.

    Media URLs (the image files the API links to as "url") also accept the API token, so a
    tool fetches the files with the same credentials it uses for the API; the media view
    then checks membership as for a browser.

    Anonymous visitors of the admin go to the admin's own login page, whatever the admin view:
    Django marks its site-wide admin views so, but not the model admins' views nor custom
    admin URLs, which would otherwise send them to the site's login page.
    """

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path_info.startswith("/api/"):
            return None
        if request.path_info.startswith(settings.MEDIA_URL) and not request.user.is_authenticated:
            try:
                authenticated = TokenAuthentication().authenticate(request)
            except AuthenticationFailed:
                authenticated = None  # a bad token is no login: the usual redirect follows
            if authenticated is not None:
                request.user = authenticated[0]
        return super().process_view(request, view_func, view_args, view_kwargs)

    def handle_no_permission(self, request, view_func):
        match = request.resolver_match
        if match is not None and admin.site.name in match.namespaces:
            return redirect_to_login(
                request.get_full_path(), reverse("admin:login", current_app=admin.site.name)
            )
        return super().handle_no_permission(request, view_func)
