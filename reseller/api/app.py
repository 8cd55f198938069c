"""The aiohttp application: dependencies come in as arguments, so tests inject their own."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog
from aiohttp import web

from reseller import db
from reseller.api import health, metrics, middleware, openapi, params, v2
from reseller.api.appkeys import (
    AUTH_LIMITER,
    CATALOG,
    CONFIG,
    DISPATCHER,
    KEY_CACHE,
    POOL,
    RATE_LIMITER,
    OrderDispatcher,
)
from reseller.api.keycache import KeyCache
from reseller.api.ratelimit import RateLimiter
from reseller.catalog import LiveCatalog
from reseller.config import Config, LiveConfig

log = structlog.get_logger()
CATALOG_POLL_SECONDS = 2.0


def create_app(
    config: Config | LiveConfig,
    *,
    pool: db.Database,
    dispatcher: OrderDispatcher | None = None,
    catalog: LiveCatalog | None = None,
    rate_limiter: RateLimiter | None = None,
    serve_metrics: bool = True,
) -> web.Application:
    """`dispatcher`: sends new orders upstream at once; without one they wait in the queue
    for a dispatcher in another process. `serve_metrics`: False when /metrics has a listener of
    its own (`metrics.metrics_app`)."""
    live = config if isinstance(config, LiveConfig) else LiveConfig(config)
    app = web.Application(middlewares=[middleware.json_errors], client_max_size=params.MAX_BODY)
    app[CONFIG] = live
    app[POOL] = pool
    app[CATALOG] = catalog or LiveCatalog()
    app[RATE_LIMITER] = rate_limiter or RateLimiter(live.current.api.rate_limit_per_minute)
    app[AUTH_LIMITER] = RateLimiter(live.current.api.failed_auth_per_minute)
    if dispatcher is not None:
        app[DISPATCHER] = dispatcher
    app[KEY_CACHE] = KeyCache(pool)
    app.cleanup_ctx.append(_catalog)
    app.cleanup_ctx.append(_key_cache)
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)
    if serve_metrics:
        app.router.add_get("/metrics", metrics.handler)
    for path in ("/api/v2", "/api/v2/"):
        app.router.add_route("GET", path, v2.endpoint)
        app.router.add_route("POST", path, v2.endpoint)
    app.router.add_get("/api/v2/openapi.json", openapi.handler)
    return app


async def _catalog(app: web.Application) -> AsyncIterator[None]:
    """Load the catalog, then follow the table: a sync or reload by any process reaches every
    server within a poll. Writing it is not the app's: the process that owns the start
    (`server.running`) rebuilds it, so an app built by a test or a bench writes nothing."""
    await app[CATALOG].refresh(app[POOL])
    poller = asyncio.create_task(_follow_catalog(app))
    yield
    poller.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await poller


async def _key_cache(app: web.Application) -> AsyncIterator[None]:
    await app[KEY_CACHE].start()
    yield
    await app[KEY_CACHE].stop()


async def _follow_catalog(app: web.Application) -> None:
    while True:
        await asyncio.sleep(CATALOG_POLL_SECONDS)
        try:
            if await app[CATALOG].refresh(app[POOL]):
                log.info("catalog_reloaded", services=len(app[CATALOG].current))
            if not app[KEY_CACHE].listening:  # lost with the database: listen again
                await app[KEY_CACHE].start()
        except Exception as exc:  # the database being away must not end the poller
            log.warning("catalog_refresh_failed", error=str(exc))
