"""The signed-in user's profile page: their API token (whether there is one, when it was made,
its last four characters), with buttons to create or replace it and to revoke it."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from labeling import api_tokens
from labeling.permissions import user_authenticated

# How much of a key the page shows: enough to tell two tokens apart, too little to use one.
KEY_TAIL = 4


def _render(request: HttpRequest, *, new_key: str | None = None) -> HttpResponse:
    token = api_tokens.api_token_of(user=user_authenticated(request.user))
    return render(
        request,
        "labeling/profile.html",
        {
            "token": token,
            "key_tail": token.key[-KEY_TAIL:] if token else "",
            "new_key": new_key,
        },
    )


@require_GET
def profile(request: HttpRequest) -> HttpResponse:
    return _render(request)


@require_POST
def profile_token_replace(request: HttpRequest) -> HttpResponse:
    """Answers with the page itself, not a redirect: the new key is shown in this answer only
    (it is never put in the session, a URL or a later page)."""
    token = api_tokens.api_token_replace(user=user_authenticated(request.user))
    response = _render(request, new_key=token.key)
    response["Cache-Control"] = "no-store"
    return response


@require_POST
def profile_token_revoke(request: HttpRequest) -> HttpResponse:
    if api_tokens.api_token_revoke(user=user_authenticated(request.user)):
        messages.success(request, "Your API token is revoked: clients using it get 401 now.")
    return redirect("labeling:profile")
