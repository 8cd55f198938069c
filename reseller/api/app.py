"""The aiohttp application: dependencies come in as arguments, so tests inject their own."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from reseller import db, heap, logs
from reseller.api import health, metrics, middleware, openapi, params, v2
from reseller.api.appkeys import (
    ADDS,
    AUTH_LIMITER,
    CATALOG,
    CONFIG,
    DISPATCHER,
    KEY_CACHE,
    POOL,
    RATE_LIMITER,
    REDIS_BUCKETS,
    OrderDispatcher,
)
from reseller.api.keycache import KeyCache
from reseller.api.ratelimit import Limiter, RateLimiter
from reseller.api.ratelimit_redis import PREFIX, RedisBuckets, configured_url
from reseller.catalog import LiveCatalog
from reseller.config import Config, LiveConfig
from reseller.orders.batching import GroupCommit

log = logs.get_logger()
CATALOG_POLL_SECONDS = 2.0


def create_app(
    config: Config | LiveConfig,
    *,
    pool: db.Database,
    dispatcher: OrderDispatcher | None = None,
    catalog: LiveCatalog | None = None,
    rate_limiter: Limiter | None = None,
    rate_limit_prefix: str = PREFIX,
    serve_metrics: bool = True,
) -> web.Application:
    """`dispatcher`: sends new orders upstream at once; without one they wait in the queue
    for a dispatcher in another process. `rate_limit_prefix`: the namespace of the limits' keys
    in Redis (installations sharing one Redis need their own; so does each test).
    `serve_metrics`: False when /metrics has a listener of its own (`metrics.metrics_app`)."""
    live = config if isinstance(config, LiveConfig) else LiveConfig(config)
    app = web.Application(middlewares=[middleware.json_errors], client_max_size=params.MAX_BODY)
    app[CONFIG] = live
    app[POOL] = pool
    app[CATALOG] = catalog or LiveCatalog()
    _limiters(app, rate_limiter, prefix=rate_limit_prefix)
    if dispatcher is not None:
        app[DISPATCHER] = dispatcher
    app[KEY_CACHE] = KeyCache(pool)
    app[ADDS] = GroupCommit(pool)
    app.cleanup_ctx.append(_catalog)
    app.cleanup_ctx.append(_key_cache)
    app.cleanup_ctx.append(_frozen_heap)
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)
    if serve_metrics:
        app.router.add_get("/metrics", metrics.handler)
    for path in ("/api/v2", "/api/v2/"):
        app.router.add_route("GET", path, v2.endpoint)
        app.router.add_route("POST", path, v2.endpoint)
    app.router.add_get("/api/v2/openapi.json", openapi.handler)
    return app


def _limiters(app: web.Application, injected: Limiter | None, *, prefix: str) -> None:
    api = app[CONFIG].current.api
    customers = RateLimiter(api.rate_limit_per_minute)
    addresses = RateLimiter(api.failed_auth_per_minute)
    buckets = _redis_buckets(api.rate_limit_redis_env, prefix=prefix)
    if buckets is None:
        app[RATE_LIMITER], app[AUTH_LIMITER] = injected or customers, addresses
        return
    app[REDIS_BUCKETS] = buckets
    app.cleanup_ctx.append(_redis)
    app[RATE_LIMITER] = injected or buckets.limiter("customer", fallback=customers)
    app[AUTH_LIMITER] = buckets.limiter("failed_auth", fallback=addresses)


def _redis_buckets(variable: str | None, *, prefix: str) -> RedisBuckets | None:
    """The shared buckets when the config names a Redis (read once, at start). A variable named
    but unset leaves this process's own limits in force, as a missing provider key leaves the
    rest of the service running: refusing to serve would turn a protection into an outage.
    `config check` (and so a reload) reports it."""
    url = configured_url(variable) if variable else None
    if url is None:
        if variable:
            log.warning("rate_limit_redis_not_set", variable=variable, fallback="per process")
        return None
    return RedisBuckets(url, prefix=prefix)


async def _redis(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[REDIS_BUCKETS].close()


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


async def _frozen_heap(app: web.Application) -> AsyncIterator[None]:
    """The catalog's views out of the collector's full passes (see heap.py: the API's p99)."""
    task = asyncio.create_task(heap.keep_frozen())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


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
