"""Brute-force protection for every way in with a password: the login page, the admin's login
page and the API's token endpoint. django-axes counts failed logins per username and client
address in the database (so every web process shares the count) and locks that pair out for a
while after too many; see the "Brute force" block of the settings.

This module holds the project's side of it: who the client is behind a proxy, and what a
locked-out person is told.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.shortcuts import render
from rest_framework import exceptions, status


def client_address(request) -> str | None:
    """The client's IP address (AXES_CLIENT_IP_CALLABLE).

    Behind TRUSTED_PROXY_COUNT proxies, each appending the address it received from to
    X-Forwarded-For, the client is the entry the outermost proxy appended: the one that many
    places from the right. Entries to its left are whatever the client chose to send, so they
    are never trusted. Without proxies, the connection's own address.
    """
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies > 0 and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if len(hops) >= proxies:
            return hops[-proxies]
    return request.META.get("REMOTE_ADDR")


def lockout_duration() -> timedelta:
    return settings.AXES_COOLOFF_TIME


def lockout_message() -> str:
    minutes = max(1, round(lockout_duration().total_seconds() / 60))
    return (
        f"Too many failed logins for this account from your address: try again in "
        f"{minutes} minute{'s' if minutes != 1 else ''}. "
        "The wait starts again with every attempt made meanwhile."
    )


def lockout_response(request, original_response=None, credentials=None):
    """The page shown instead of a login form (AXES_LOCKOUT_CALLABLE): 429 with the reason,
    how long to wait, and Retry-After for scripts."""
    response = render(
        request,
        "registration/locked_out.html",
        {"message": lockout_message()},
        status=status.HTTP_429_TOO_MANY_REQUESTS,
    )
    response["Retry-After"] = str(int(lockout_duration().total_seconds()))
    return response


class LoginLockedOut(exceptions.APIException):
    """The API's answer to a locked-out username and address: 429, JSON {"detail": ...}, and
    Retry-After (DRF's exception handler sends `wait` as that header)."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "locked_out"

    def __init__(self):
        super().__init__(detail=lockout_message())
        self.wait = lockout_duration().total_seconds()
