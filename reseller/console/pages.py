"""What every page shares: its template context (who is signed in, the form token, the messages
left by the last action), and how an action ends: Post/Redirect/Get, its outcome or its refusal
shown once on the page it returns to."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, NoReturn

from aiohttp import web
from aiohttp_session import Session, get_session

from reseller import errors
from reseller.audit import Actor
from reseller.console import keys, security

FLASH = "flash"  # the session's messages for the next page: [kind, text] pairs


async def context(request: web.Request, **values: Any) -> dict[str, Any]:
    """A page's template context: `values`, the operator, the CSRF token and the messages
    waiting for this page (shown once)."""
    session = await get_session(request)
    messages = session.pop(FLASH, [])
    return {
        "operator": request[keys.OPERATOR],
        "csrf": security.csrf_token(session),
        "messages": messages,
        **values,
    }


def flash(session: Session, kind: str, text: str) -> None:
    """`kind`: ok or error."""
    session[FLASH] = [*session.get(FLASH, []), [kind, text]]


async def act(request: web.Request, back: str, work: Awaitable[str]) -> NoReturn:
    """Run an operator action and return to `back` with what it did, or why it was refused
    (a domain refusal changes nothing: each action is one transaction)."""
    session = await get_session(request)
    try:
        flash(session, "ok", await work)
    except (errors.ResellerError, ValueError) as exc:
        flash(session, "error", str(exc))
    raise web.HTTPSeeOther(back)


def actor(request: web.Request, reason: str | None = None) -> Actor:
    """The signed-in operator as the audit trail names them ("console:NAME"), with the
    reason they typed."""
    return Actor(f"console:{request[keys.OPERATOR].name}", reason)
