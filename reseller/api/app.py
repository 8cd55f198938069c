"""The aiohttp application: dependencies come in as arguments, so tests inject their own."""

from __future__ import annotations

from aiohttp import web

from reseller import db
from reseller.api import health
from reseller.api.appkeys import CONFIG, POOL
from reseller.config import Config


def create_app(config: Config, *, pool: db.Pool) -> web.Application:
    app = web.Application()
    app[CONFIG] = config
    app[POOL] = pool
    app.router.add_get("/healthz", health.healthz)
    return app
