"""Health and readiness endpoints."""

from __future__ import annotations

import asyncio

import orjson
from aiohttp import web

from reseller import db
from reseller.api.appkeys import POOL

_TIMEOUT = 2.0


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process answers (200 even with the database away, so a supervisor does
    not restart a process that would only reconnect); the body says how the database is."""
    up = await _database_up(request)
    return _json({"status": "ok", "database": "up" if up else "down"})


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
