"""Typed keys for what the application holds."""

from __future__ import annotations

from aiohttp import web

from reseller import db
from reseller.api.keycache import KeyCache
from reseller.api.ratelimit import RateLimiter
from reseller.catalog import LiveCatalog
from reseller.config import LiveConfig
from reseller.jobs.dispatch import Dispatcher

CONFIG = web.AppKey("config", LiveConfig)
POOL = web.AppKey("pool", db.Pool)
CATALOG = web.AppKey("catalog", LiveCatalog)
RATE_LIMITER = web.AppKey("rate_limiter", RateLimiter)
DISPATCHER = web.AppKey("dispatcher", Dispatcher)
KEY_CACHE = web.AppKey("key_cache", KeyCache)
