"""Who may do what, and the headers every response carries.

- Off loopback every request needs a token; on loopback only once one is set.  The read-write
  token may write, the read-only one may only read; both compared in constant time.  A browser
  gives its token once on /login and then carries it in an HttpOnly, SameSite=Strict cookie.
- Without a token (loopback) a request must name a loopback Host: a page of another site that
  resolves its own name to 127.0.0.1 (DNS rebinding) reaches nothing.
- Writes: the API takes only ``application/json`` (a cross-site form cannot send it without a
  CORS preflight, which this server never grants); a request that says where it comes from
  (``Origin``) must come from here; a form carries the double-submit CSRF token of its session.
"""

from __future__ import annotations

import hmac
import secrets
from enum import Enum

from retrovue.errors import ForbiddenError, UnauthorizedError
from retrovue.web.settings import ServeSettings

TOKEN_COOKIE = "rv_token"
CSRF_COOKIE = "rv_csrf"
CSRF_FIELD = "csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})

HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",  # not no-referrer: a browser then sends Origin: null
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class Role(Enum):
    READ = "read"
    WRITE = "write"


def role_of(settings: ServeSettings, presented: str | None) -> Role:
    """The role a request's token grants; raises when it needs one and has none that fits."""
    if not settings.needs_token:
        return Role.WRITE
    if not presented:
        raise UnauthorizedError(
            "This server needs a token",
            hint="Send 'Authorization: Bearer TOKEN', or sign in at /login.",
        )
    given = presented.encode()
    # both compared whatever the first gives: the time taken tells nothing of which matched
    write = settings.token is not None and hmac.compare_digest(given, settings.token.encode())
    read = settings.readonly_token is not None and hmac.compare_digest(
        given, settings.readonly_token.encode()
    )
    if write:
        return Role.WRITE
    if read:
        return Role.READ
    raise UnauthorizedError("Invalid token")


def presented_token(headers, cookies) -> str | None:
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return cookies.get(TOKEN_COOKIE)


def require_write(role: Role) -> None:
    if role is not Role.WRITE:
        raise ForbiddenError("This token may only read")


def check_host(settings: ServeSettings, host_header: str | None) -> None:
    """Without a token, only a loopback Host (see the module's note on DNS rebinding)."""
    if settings.needs_token:
        return
    host = (
        (host_header or "").rsplit(":", 1)[0]
        if "]" not in (host_header or "")
        else (host_header or "").split("]")[0] + "]"
    )
    if host not in LOOPBACK_NAMES and host != settings.host:
        raise ForbiddenError(f"Host {host_header!r} is not this server's loopback address")


def check_origin(origin: str | None, host_header: str | None) -> None:
    """A write that names its Origin must come from this server's own pages."""
    if origin is None:
        return
    own = {f"http://{host_header}", f"https://{host_header}"}
    if origin not in own:
        raise ForbiddenError("Cross-origin write refused")


def check_csrf(cookie: str | None, field: str | None) -> None:
    if not cookie or not field or not hmac.compare_digest(cookie.encode(), field.encode()):
        raise ForbiddenError(
            "The form's CSRF token is missing or stale", hint="Reload the page and try again."
        )


def csrf_cookie(token: str) -> str:
    """The Set-Cookie value of a session's CSRF token: HttpOnly, SameSite=Strict, whole site."""
    return f"{CSRF_COOKIE}={token}; HttpOnly; Path=/; SameSite=strict"


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)
