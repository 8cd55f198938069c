"""What every console answer carries and every form is checked for: security headers (no
script at all, no framing, no referrer), a CSRF token per session on every POST, and a bound on
sign-in attempts per account and per address."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp_session import Session

HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self';"
        " frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",  # operators' figures stay out of shared caches
}
CSRF_FIELD = "csrf"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # redirects and errors carry them too
        exc.headers.update(HEADERS)
        raise
    response.headers.update(HEADERS)
    return response


def csrf_token(session: Session) -> str:
    """The session's token, made on first use; every form carries it."""
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return token


async def require_csrf(request: web.Request, session: Session) -> None:
    """A POST whose form does not carry the session's token is refused (403), before anything
    it asks is done."""
    form = await request.post()
    sent, expected = form.get(CSRF_FIELD), session.get(CSRF_FIELD)
    if not (
        isinstance(sent, str)
        and isinstance(expected, str)
        and secrets.compare_digest(sent, expected)
    ):
        raise web.HTTPForbidden(text="The form is stale or not ours: reload the page and retry.")
