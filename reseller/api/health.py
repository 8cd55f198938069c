"""Health: the process answers and its database does."""

from __future__ import annotations

import asyncio

import orjson
from aiohttp import web

from reseller import db
from reseller.api.appkeys import POOL

_TIMEOUT = 2.0


async def healthz(request: web.Request) -> web.Response:
    try:
        async with asyncio.timeout(_TIMEOUT):
            await db.ping(request.app[POOL])
    except Exception:  # whatever stops the database answering means: not healthy
        return _json({"status": "error", "database": "down"}, status=503)
    return _json({"status": "ok", "database": "up"})


def _json(body: dict[str, str], *, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")
