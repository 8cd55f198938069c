"""The dashboard: today, 7 and 30 days of orders, revenue, refunds, cost and margin (the same
report as `reseller report`, by day), revenue and margin over the 30 days and their orders by
status as charts; the orders waiting on someone; each provider's balance and whether it
answers; the services taken off sale lately."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from reseller import money
from reseller.console import charts, keys, pages
from reseller.db import Q
from reseller.reports import revenue

routes = web.RouteTableDef()
PERIODS = (("Today", 1), ("7 days", 7), ("30 days", 30))  # days up to today, included
DAYS = 30  # the charts' span
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
    base = config.api.currency
    today = datetime.now(UTC).date()
    days = [today - timedelta(days=n) for n in range(DAYS - 1, -1, -1)]  # oldest first
    start = datetime.combine(days[0], datetime.min.time(), UTC)
    report = await revenue.build(pool, config, start=start, end=start + timedelta(DAYS), by="day")
    summed = _by_day(report.lines, base)
    by_day = {d: summed.get(d) or revenue.total([], d.isoformat(), base) for d in days}
    statuses = await pool.fetch(Q.console_orders_by_status, start)
    return await pages.context(
        request,
        currency=base,
        periods=[_period(name, list(by_day.values())[-n:]) for name, n in PERIODS],
        money_chart=charts.line_chart(
            [d.strftime("%d %b") for d in days],
            [
                ("Revenue", "revenue", [line.revenue_base for line in by_day.values()]),
                ("Margin", "margin", [line.margin for line in by_day.values()]),
            ],
        ),
        status_chart=charts.bar_chart([(r["status"], r["orders"]) for r in statuses]),
        orders=await pool.fetchrow(Q.console_order_counts),
        providers=[
            {
                **row,
                "balance": None if row["balance"] is None else money.format_amount(row["balance"]),
            }
            for row in await pool.fetch(Q.console_providers)
        ],
        off_sale=await pool.fetch(
            Q.console_recently_off_sale, datetime.now(UTC) - timedelta(OFF_SALE_DAYS)
        ),
    )


def _by_day(lines: list[revenue.Line], base: str) -> dict[date, revenue.Line]:
    """The report's lines (one per day and customer currency) summed per day."""
    grouped: dict[str, list[revenue.Line]] = {}
    for line in lines:
        grouped.setdefault(line.key, []).append(line)
    return {date.fromisoformat(k): revenue.total(v, k, base) for k, v in grouped.items()}


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
