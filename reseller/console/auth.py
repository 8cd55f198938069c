"""Signing in and out, and the guard every other page stands behind: a session names its
operator and when it signed in and was last seen; past `admin.idle_minutes` of silence or
`admin.absolute_hours` since signing in, or once the account is disabled, it is over."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import Session, get_session, new_session

from reseller import operators
from reseller.client_address import client_address
from reseller.console import keys, security

routes = web.RouteTableDef()
OPEN_PATHS = ("/login", "/static/")  # reachable without signing in
VIEWER_POSTS = ("/logout",)  # the only form a viewer may send: every other one changes something


@web.middleware
async def signed_in(request: web.Request, handler: security.Handler) -> web.StreamResponse:
    if request.path.startswith(OPEN_PATHS):
        return await handler(request)
    session = await get_session(request)
    operator = await _operator(request, session)
    if operator is None:
        if "operator_id" in session:  # over: ended without forgetting who it was
            session.invalidate()
        # Not before signing in: the browser's own /favicon.ico would wipe the form's token.
        raise web.HTTPSeeOther("/login")
    if request.method == "POST":
        await security.require_csrf(request, session)
        if operator.role != "admin" and request.path not in VIEWER_POSTS:
            raise web.HTTPForbidden(text="This account is read-only (viewer): nothing changed.")
    session["seen_at"] = request.app[keys.CLOCK]()
    request[keys.OPERATOR] = operator
    return await handler(request)


async def _operator(request: web.Request, session: Session) -> operators.Operator | None:
    """The session's operator while the session is alive and the account may sign in."""
    operator_id, signed_in_at, seen_at = (
        session.get("operator_id"),
        session.get("signed_in_at"),
        session.get("seen_at"),
    )
    if not (isinstance(operator_id, int) and isinstance(signed_in_at, float | int)):
        return None
    settings, now = request.app[keys.CONFIG].current.admin, request.app[keys.CLOCK]()
    if now - float(seen_at or signed_in_at) > settings.idle_minutes * 60:
        return None
    if now - float(signed_in_at) > settings.absolute_hours * 3600:
        return None
    return await operators.active(request.app[keys.POOL], operator_id)


@routes.get("/login")
@aiohttp_jinja2.template("login.html")
async def login_page(request: web.Request) -> dict[str, object]:
    session = await get_session(request)
    return {"csrf": security.csrf_token(session), "error": None}


@routes.post("/login")
async def login(request: web.Request) -> web.StreamResponse:
    session = await get_session(request)
    await security.require_csrf(request, session)
    form = await request.post()
    name, password = str(form.get("name", "")), str(form.get("password", ""))
    limiter = request.app[keys.SIGN_INS]
    address = client_address(request, request.app[keys.CONFIG].current.admin.client_address_header)
    if not (await limiter.allow(("name", name)) and await limiter.allow(("address", address))):
        return _login_again(request, session, "Too many sign-in attempts: wait a minute.", 429)
    operator = await operators.sign_in(request.app[keys.POOL], name, password)
    if operator is None:
        return _login_again(request, session, "Wrong name or password.", 401)
    fresh = await new_session(request)  # a new session (and token) at every sign-in
    now = request.app[keys.CLOCK]()
    fresh.update({"operator_id": operator.id, "signed_in_at": now, "seen_at": now})
    security.csrf_token(fresh)
    raise web.HTTPSeeOther("/")


@routes.post("/logout")
async def logout(request: web.Request) -> web.StreamResponse:
    (await get_session(request)).invalidate()
    raise web.HTTPSeeOther("/login")


def _login_again(request: web.Request, session: Session, error: str, status: int) -> web.Response:
    context = {"csrf": security.csrf_token(session), "error": error}
    return aiohttp_jinja2.render_template("login.html", request, context, status=status)
