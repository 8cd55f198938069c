"""The dashboard: today, 7 and 30 days of orders, revenue, refunds, cost and margin (the same
report as `reseller report`); the orders waiting on someone; each provider's balance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from reseller import money
from reseller.console import keys, pages
from reseller.db import Q
from reseller.reports import revenue

PERIODS = (("Today", 0), ("7 days", 6), ("30 days", 29))  # days before today included


@dataclass(frozen=True, slots=True)
class Period:
    name: str
    orders: int
    revenue: str
    refunds: str
    cost: str
    margin: str
    margin_percent: str


routes = web.RouteTableDef()


@routes.get("/")
@aiohttp_jinja2.template("dashboard.html")
async def page(request: web.Request) -> dict[str, Any]:
    pool, config = request.app[keys.POOL], request.app[keys.CONFIG].current
    tomorrow = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(
        days=1
    )
    periods = []
    for name, days in PERIODS:
        start = tomorrow - timedelta(days=days + 1)
        total = (await revenue.build(pool, config, start=start, end=tomorrow, by="provider")).total
        percent = total.margin_percent
        periods.append(
            Period(
                name,
                total.orders,
                money.format_amount(total.revenue_base),
                money.format_amount(total.refunds_base),
                money.format_amount(total.cost),
                money.format_amount(total.margin),
                "–" if percent is None else f"{percent:.1f} %",
            )
        )
    return await pages.context(
        request,
        currency=config.api.currency,
        periods=periods,
        orders=await pool.fetchrow(Q.console_order_counts),
        providers=[
            {**row, "balance": money.format_amount(row["balance"])}
            for row in await pool.fetch(Q.console_provider_balances)
        ],
    )
