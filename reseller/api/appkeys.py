"""Typed keys for what the application holds, and the shape of what it is given."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Protocol

from aiohttp import web

from reseller import db
from reseller.api.keycache import KeyCache
from reseller.api.ratelimit import Limiter
from reseller.api.ratelimit_redis import RedisBuckets
from reseller.catalog import LiveCatalog
from reseller.config import LiveConfig
from reseller.orders.batching import GroupCommit


class OrderDispatcher(Protocol):
    """What the API needs of the dispatcher (`jobs.dispatch.Dispatcher`)."""

    def kick(self, order_id: int) -> Awaitable[tuple[str, str | None]] | None:
        """Start sending a new order now; None when it is not started here (the queue sends
        it). Awaited: the dispatch state it reached (or another outcome) and, when the provider
        refused it, the reason."""
        ...


CONFIG = web.AppKey("config", LiveConfig)
POOL = web.AppKey("pool", db.Database)
CATALOG = web.AppKey("catalog", LiveCatalog)
RATE_LIMITER = web.AppKey("rate_limiter", Limiter)
AUTH_LIMITER = web.AppKey("auth_limiter", Limiter)  # failed authentications per address
REDIS_BUCKETS = web.AppKey("redis_buckets", RedisBuckets)  # with api.rate_limit_redis_env
DISPATCHER = web.AppKey("dispatcher", OrderDispatcher)
KEY_CACHE = web.AppKey("key_cache", KeyCache)
ADDS = web.AppKey("adds", GroupCommit)  # one customer's concurrent adds, committed together
# The action a request asked for, as it named it: the request metric's label.
ACTION = web.RequestKey("action", str)
