"""The dashboard: today, 7 and 30 days of orders, revenue, refunds, cost and margin (the same
report as `reseller report`, by day, kept by `figures`), revenue and margin over the 30 days and
their orders by status as charts; the orders waiting on someone; each provider's balance and
whether it answers; the services taken off sale lately."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from reseller import money
from reseller.console import charts, keys, pages
from reseller.db import Q
from reseller.reports import provider_status, revenue

routes = web.RouteTableDef()
PERIODS = (("Today", 1), ("7 days", 7), ("30 days", 30))  # days up to today, included
OFF_SALE_DAYS = 7  # services taken off sale this recently are listed


@dataclass(frozen=True, slots=True)
class Period:
    name: str
    orders: int
    revenue: str
    refunds: str
    cost: str
    margin: str
    margin_percent: str
    cost_unknown: int


@routes.get("/")
@aiohttp_jinja2.template("dashboard.html")
async def page(request: web.Request) -> dict[str, Any]:
    pool, config = request.app[keys.POOL], request.app[keys.CONFIG].current
    figures = await request.app[keys.FIGURES].latest()
    now = datetime.now(UTC)
    return await pages.context(
        request,
        currency=config.api.currency,
        figures_at=figures.at,
        figures_every=config.admin.figures_seconds,
        periods=[_period(name, figures.days[-n:]) for name, n in PERIODS],
        money_chart=charts.line_chart(
            [d.key[5:] for d in figures.days],  # MM-DD
            [
                ("Revenue", "revenue", [d.revenue_base for d in figures.days]),
                ("Margin", "margin", [d.margin for d in figures.days]),
            ],
        ),
        status_chart=charts.bar_chart(figures.statuses),
        orders=await pool.fetchrow(Q.console_order_counts),
        providers=await provider_status.statuses(pool, config, now=now),
        off_sale=await pool.fetch(Q.console_recently_off_sale, now - timedelta(OFF_SALE_DAYS)),
    )


def _period(name: str, days: list[revenue.Line]) -> Period:
    total = revenue.total(days, name, days[0].currency)
    percent = total.margin_percent
    return Period(
        name,
        total.orders,
        money.format_amount(total.revenue_base),
        money.format_amount(total.refunds_base),
        money.format_amount(total.cost),
        money.format_amount(total.margin),
        "–" if percent is None else f"{percent:.1f} %",
        total.cost_unknown,
    )
