"""Health and readiness endpoints."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import orjson
from aiohttp import web

from reseller import db
from reseller.api.appkeys import POOL

_TIMEOUT = 2.0
# Why the process can no longer recover by itself (its embedded database could not be
# restarted), or None; set by the process that runs the app.
Failing = Callable[[], str | None]
LIVENESS: web.AppKey[Failing] = web.AppKey("liveness")


async def healthz(request: web.Request) -> web.Response:
    """Liveness: 200 while the process can recover by itself, even with the database away (a
    supervisor must not restart a process that would only reconnect); the body says how the
    database is. 503 once it cannot: its embedded database could not be restarted."""
    up = await _database_up(request)
    database = "up" if up else "down"
    failing = request.app.get(LIVENESS)
    if failing is not None and (reason := failing()) is not None:
        return _json({"status": "failing", "database": database, "reason": reason}, status=503)
    return _json({"status": "ok", "database": database})


async def readyz(request: web.Request) -> web.Response:
    """Readiness: send traffic only while the database answers."""
    if await _database_up(request):
        return _json({"status": "ready", "database": "up"})
    return _json({"status": "not ready", "database": "down"}, status=503)


async def _database_up(request: web.Request) -> bool:
    try:
        async with asyncio.timeout(_TIMEOUT):
            await db.ping(request.app[POOL])
    except Exception:  # whatever stops the database answering means: down
        return False
    return True


def _json(body: dict[str, str], *, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")
