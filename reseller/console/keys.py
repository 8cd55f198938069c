"""The console app's typed keys."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from reseller import db, operators
from reseller.api.ratelimit import RateLimiter
from reseller.config import LiveConfig
from reseller.console.figures import Figures
from reseller.upstream import Upstreams

CONFIG = web.AppKey("config", LiveConfig)
POOL = web.AppKey("pool", db.Database)
# The providers' clients: a link is checked with the provider, "sync now" and ping ask them.
UPSTREAMS = web.AppKey("upstreams", Upstreams)
Clock = Callable[[], float]  # seconds since the epoch
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
# The dashboard's 30 days of money, summed in the background.
FIGURES = web.AppKey("figures", Figures)
SIGN_INS = web.AppKey("sign_ins", RateLimiter)  # attempts, per account and per address
# The signed-in operator, on the request: set by `auth.signed_in`.
OPERATOR = web.RequestKey("operator", operators.Operator)
