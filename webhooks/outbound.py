"""Outbound HTTP for webhooks, guarded against server-side request forgery.

An owner types the URL, and our servers call it: without a guard, a URL naming the metadata
service (169.254.169.254), the database or Redis on 127.0.0.1, or a host on the private
network would let a project owner reach what only our servers can. So:
- the host is resolved once, every address it resolves to must be public
  (`ipaddress`'s is_global) unless WEBHOOKS_ALLOW_PRIVATE_ADDRESSES is on (tests, a receiver
  on the same network), and the connection goes to the address that was checked, not to a
  second lookup that DNS rebinding could answer differently;
- redirects are not followed (a public URL must not redirect us to a private one);
- connecting and reading time out quickly (WEBHOOKS_TIMEOUT), and at most a few KB of the
  answer is read.
urllib3 directly (a dependency of the storage's boto3 already) because it lets the
connection be pinned to an address while TLS still checks the certificate of the host name.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3
from django.conf import settings

# Enough of a receiver's answer to show in the delivery log.
RESPONSE_READ_LIMIT = 4096


class UrlRefused(ValueError):
    """The URL may not be called: its message says why, for the owner who typed it."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    address: str  # the checked IP address the connection goes to
    path: str  # path and query

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        return self.host if self.port == default else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Answer:
    status: int
    duration_ms: int
    body: str


def _address_allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback too
    return ip.is_global and not ip.is_multicast


def target_resolve(url: str) -> Target:
    """The URL's parts and the address to connect to; UrlRefused when it is not an http(s)
    URL, its host does not resolve, or (unless settings allow it) any address it resolves to
    is loopback, link-local, private or otherwise not public."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UrlRefused("Use an http:// or https:// URL with a host name.")
    if parts.username or parts.password:
        raise UrlRefused("Put no user name or password in the URL; the secret signs each call.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UrlRefused(f"Invalid port: {exc}.") from None
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UrlRefused(f"The host {parts.hostname!r} could not be resolved ({exc}).") from None
    addresses = [str(info[4][0]) for info in infos]
    if not settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES:
        refused = [address for address in addresses if not _address_allowed(address)]
        if refused:
            raise UrlRefused(
                f"The host {parts.hostname!r} resolves to {refused[0]}, a loopback, link-local, "
                "private or reserved address: webhooks only call public addresses."
            )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, parts.hostname, port, addresses[0], path)


def post_json(url: str, *, body: bytes, headers: dict[str, str]) -> Answer:
    """POST the body to the URL's checked address, no redirects, short timeouts.

    Raises UrlRefused (see target_resolve) or urllib3's HTTPError for a connection that
    failed or timed out; any HTTP answer, 3xx included, is returned.
    """
    target = target_resolve(url)
    timeout = urllib3.Timeout(connect=settings.WEBHOOKS_TIMEOUT, read=settings.WEBHOOKS_TIMEOUT)
    pool: urllib3.HTTPConnectionPool
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            target.address,
            target.port,
            timeout=timeout,
            retries=False,
            server_hostname=target.host,
            assert_hostname=target.host,
        )
    else:
        pool = urllib3.HTTPConnectionPool(
            target.address, target.port, timeout=timeout, retries=False
        )
    started = time.perf_counter()
    try:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body,
            headers={**headers, "Host": target.host_header},
            redirect=False,
            retries=False,
            assert_same_host=False,
            preload_content=False,
        )
        try:
            text = response.read(RESPONSE_READ_LIMIT).decode("utf-8", errors="replace")
        finally:
            response.release_conn()
    finally:
        pool.close()
    duration_ms = round((time.perf_counter() - started) * 1000)
    return Answer(status=response.status, duration_ms=duration_ms, body=text)
