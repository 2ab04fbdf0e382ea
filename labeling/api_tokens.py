"""A user's API token (DRF's authtoken: one per user, `Authorization: Token <key>`), as the
profile page shows, replaces and revokes it. POST /api/auth/token/ hands out the same token."""

from django.contrib.auth.models import User
from django.db import transaction
from rest_framework.authtoken.models import Token


def api_token_of(*, user: User) -> Token | None:
    """The user's token, or None before they have one (or after they revoked it)."""
    return Token.objects.filter(user=user).first()


@transaction.atomic
def api_token_replace(*, user: User) -> Token:
    """A new token for the user; the old one, if any, stops working at once (a client that
    still sends it gets 401). The key is only ever shown in the answer to this request."""
    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user)


def api_token_revoke(*, user: User) -> bool:
    """Delete the user's token: API clients using it get 401 until a new one is made (on the
    profile page, or by logging in at POST /api/auth/token/). False when there was none."""
    deleted, _ = Token.objects.filter(user=user).delete()
    return bool(deleted)
