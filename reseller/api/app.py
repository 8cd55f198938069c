"""The aiohttp application: dependencies come in as arguments, so tests inject their own."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from reseller import catalog, db
from reseller.api import health, middleware, openapi, params, v2
from reseller.api.appkeys import CATALOG, CONFIG, POOL, RATE_LIMITER
from reseller.api.ratelimit import RateLimiter
from reseller.config import Config


def create_app(
    config: Config, *, pool: db.Pool, rate_limiter: RateLimiter | None = None
) -> web.Application:
    app = web.Application(middlewares=[middleware.json_errors], client_max_size=params.MAX_BODY)
    app[CONFIG] = config
    app[POOL] = pool
    app[CATALOG] = catalog.LiveCatalog()
    app[RATE_LIMITER] = rate_limiter or RateLimiter(config.api.rate_limit_per_minute)
    app.cleanup_ctx.append(_catalog_from_config)
    app.router.add_get("/healthz", health.healthz)
    for path in ("/api/v2", "/api/v2/"):
        app.router.add_route("GET", path, v2.endpoint)
        app.router.add_route("POST", path, v2.endpoint)
    app.router.add_get("/api/v2/openapi.json", openapi.handler)
    return app


async def _catalog_from_config(app: web.Application) -> AsyncIterator[None]:
    """For now the config's `services:` section is the catalog's source."""
    await catalog.apply_config(app[POOL], app[CONFIG].services)
    await app[CATALOG].refresh(app[POOL])
    yield
