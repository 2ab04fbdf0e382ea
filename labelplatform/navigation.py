"""Where a page's form sends the user back to, for both apps' pages."""

from django.http import HttpRequest, HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme


def redirect_back(request: HttpRequest, fallback: str) -> HttpResponseRedirect:
    """Back to the page the form named in `next` (POST, or the query string), if it is one of
    ours; to `fallback` otherwise."""
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return HttpResponseRedirect(target)
    return HttpResponseRedirect(fallback)
