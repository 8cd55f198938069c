"""The console app: sessions in an encrypted cookie, templates with autoescape, the security
middleware, and its pages (`PAGES`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp_session import setup as setup_sessions
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from reseller import db, money
from reseller.api.ratelimit import RateLimiter
from reseller.config import LiveConfig
from reseller.console import (
    audit,
    auth,
    customers,
    dashboard,
    keys,
    providers,
    security,
    services,
)
from reseller.console.figures import Figures
from reseller.upstream import Upstreams

HERE = Path(__file__).parent
COOKIE = "reseller_console"
PAGES = (auth, dashboard, customers, services, providers, audit)  # each with its `routes`


def create_console(
    live: LiveConfig,
    *,
    pool: db.Database,
    upstreams: Upstreams,
    secret: bytes,
    clock: Callable[[], float] = time.time,
) -> web.Application:
    """`secret`: the cookie cipher's 32-byte key (`admin.secret_env`); `clock`: seconds since
    the epoch, for the sessions' expiry."""
    settings = live.current.admin
    app = web.Application(middlewares=[security.security_headers])
    app[keys.CONFIG], app[keys.POOL], app[keys.CLOCK] = live, pool, clock
    app[keys.UPSTREAMS] = upstreams
    app[keys.FIGURES] = figures = Figures(pool, live)
    app.on_cleanup.append(lambda _: figures.close())
    app[keys.SIGN_INS] = RateLimiter(settings.sign_ins_per_minute)
    setup_sessions(
        app,
        EncryptedCookieStorage(
            secret,
            cookie_name=COOKIE,
            httponly=True,
            samesite="Strict",
            secure=settings.secure_cookie,
            max_age=settings.absolute_hours * 3600,
        ),
    )
    app.middlewares.append(auth.signed_in)
    templates = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(default=True),
        context_processors=[aiohttp_jinja2.request_processor],  # the nav marks the current page
    )
    templates.filters["amount"] = money.format_amount  # as the CLI prints amounts
    for pages in PAGES:
        app.add_routes(pages.routes)
    app.router.add_static("/static", HERE / "static")
    return app
