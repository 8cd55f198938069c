"""The Prometheus endpoint: alone on an address of its own (the default), or on the public app."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from reseller import db, metrics
from reseller.api.appkeys import POOL


async def handler(request: web.Request) -> web.Response:
    body = await metrics.render(request.app[POOL])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def metrics_app(pool: db.Database) -> web.Application:
    """/metrics alone, for binding to an address apart from the public API."""
    app = web.Application()
    app[POOL] = pool
    app.router.add_get("/metrics", handler)
    return app
