"""The Providers page: each configured provider's balance and state as the balances job last
recorded them, whether its checks are answered, what went wrong with its orders in the last
24 hours, and the routing job's quality figures (`reseller providers quality`). An admin may
ping one now (`reseller providers ping`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NoReturn

import aiohttp_jinja2
from aiohttp import web

from reseller import money
from reseller.console import keys, pages
from reseller.reports import provider_status
from reseller.routing import quality
from reseller.upstream import ping

routes = web.RouteTableDef()


@routes.get("/providers")
@aiohttp_jinja2.template("providers.html")
async def page(request: web.Request) -> dict[str, Any]:
    pool = request.app[keys.POOL]
    return await pages.context(
        request,
        providers=await provider_status.statuses(
            pool, request.app[keys.CONFIG].current, now=datetime.now(UTC)
        ),
        recent_hours=int(provider_status.RECENT.total_seconds() // 3600),
        figures=await quality.figures(pool),
        amount=money.format_amount,
    )


@routes.post("/providers/{name}/ping")
async def ping_one(request: web.Request) -> NoReturn:
    name = request.match_info["name"]
    upstreams = request.app[keys.UPSTREAMS]

    async def work() -> str:
        if name not in upstreams:
            raise ValueError(f"no provider named {name!r} in the config")
        answer = await ping.ping(upstreams[name])
        if answer.error is not None:
            raise ValueError(f"{name}: {answer}")
        return f"{name}: {answer}"

    await pages.act(request, "/providers", work())
