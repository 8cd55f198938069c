"""Revenue, refunds, upstream cost and margin over a date range, by provider, service or
customer. Costs are converted from each provider's currency with `currency_rates`."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from reseller import db, pricing
from reseller.config import Config
from reseller.db import Q

GROUPINGS = ("provider", "service", "customer")


@dataclass
class Line:
    key: str
    orders: int = 0
    revenue: Decimal = Decimal(0)  # charged minus refunded: what customers finally paid
    refunds: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)  # what providers charged us, in our currency
    cost_unknown: int = 0  # placed orders whose provider has not reported a charge yet

    @property
    def margin(self) -> Decimal:
        return self.revenue - self.cost

    @property
    def margin_percent(self) -> Decimal | None:
        return self.margin / self.revenue * 100 if self.revenue else None


@dataclass
class Report:
    lines: list[Line] = field(default_factory=list)
    total: Line = field(default_factory=lambda: Line("TOTAL"))


async def build(
    pool: db.Pool, config: Config, *, start: datetime, end: datetime, by: str
) -> Report:
    currencies = {p.name: p.currency for p in config.providers}
    lines: dict[str, Line] = defaultdict(lambda: Line(""))
    for row in await pool.fetch(Q.report, start, end, by):
        line = lines[row["key"]]
        line.key = row["key"]
        cost = row["cost"]
        currency = currencies.get(row["provider"] or "", config.api.currency)
        if currency != config.api.currency and currency in config.currency_rates:
            cost = pricing.convert(
                cost, currency, rates=config.currency_rates, base=config.api.currency
            )
        line.orders += row["orders"]
        line.revenue += row["charged"] - row["refunded"]
        line.refunds += row["refunded"]
        line.cost += cost
        line.cost_unknown += row["cost_unknown"]
    report = Report(lines=sorted(lines.values(), key=lambda x: x.key))
    for line in report.lines:
        report.total.orders += line.orders
        report.total.revenue += line.revenue
        report.total.refunds += line.refunds
        report.total.cost += line.cost
        report.total.cost_unknown += line.cost_unknown
    return report
