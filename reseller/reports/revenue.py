"""Revenue, refunds, upstream cost and margin over a date range, by provider, service or
customer, and by the customers' currency: revenue in that currency and in the base one
(`api.currency`), converted at the rate each order was placed at. Costs are converted from each
provider's currency with `currency_rates`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from reseller import db
from reseller.catalog import pricing
from reseller.config import Config
from reseller.db import Q

GROUPINGS = ("provider", "service", "customer", "day")  # day: a UTC date, YYYY-MM-DD


@dataclass
class Line:
    key: str
    currency: str  # the customers' currency of `revenue` and `refunds`
    orders: int = 0
    revenue: Decimal = Decimal(0)  # charged minus refunded: what customers finally paid
    refunds: Decimal = Decimal(0)
    revenue_base: Decimal = Decimal(0)  # the same in the base currency, at each sale's rate
    refunds_base: Decimal = Decimal(0)
    # Less than the price list would have charged, on what was finally paid (groups, tiers,
    # customers' own prices; negative for a markup).
    discount: Decimal = Decimal(0)
    discount_base: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)  # what providers charged us, in the base currency
    cost_unknown: int = 0  # placed orders whose provider has not reported a charge yet
    service_id: int | None = None  # the key's service, when grouped by service

    @property
    def margin(self) -> Decimal:
        return self.revenue_base - self.cost

    @property
    def margin_percent(self) -> Decimal | None:
        return self.margin / self.revenue_base * 100 if self.revenue_base else None


@dataclass
class Report:
    lines: list[Line]
    total: Line


async def build(
    pool: db.Database, config: Config, *, start: datetime, end: datetime, by: str
) -> Report:
    """Lines by (key, customer currency); margins and the total in the base currency. Revenue
    is converted at the rate each order was placed at, costs at today's provider rates."""
    base = config.api.currency
    currencies = {p.name: p.currency for p in config.providers}
    lines: dict[tuple[str, str], Line] = {}
    for row in await pool.fetch(Q.report, start, end, by):
        key = (row["key"], row["currency"])
        line = lines.setdefault(key, Line(*key, service_id=row["service_id"]))
        cost = row["cost"]
        currency = currencies.get(row["provider"] or "", base)
        if currency != base and currency in config.currency_rates:
            cost = pricing.convert(cost, currency, rates=config.currency_rates, base=base)
        line.orders += row["orders"]
        line.revenue += row["charged"] - row["refunded"]
        line.refunds += row["refunded"]
        line.revenue_base += row["revenue_base"]
        line.refunds_base += row["refunds_base"]
        line.discount += row["discount"]
        line.discount_base += row["discount_base"]
        line.cost += cost
        line.cost_unknown += row["cost_unknown"]
    # Services by their ID as a number (2 before 10, not "10 …" before "2 …"), else by key.
    ordered = sorted(lines.values(), key=lambda x: (x.service_id or 0, x.key, x.currency))
    return Report(ordered, total(ordered, "TOTAL", base))


def total(lines: Iterable[Line], key: str, base: str) -> Line:
    """The lines summed in the base currency (their customers' currencies may differ)."""
    summed = Line(key, base)
    for line in lines:
        summed.orders += line.orders
        summed.revenue_base += line.revenue_base
        summed.refunds_base += line.refunds_base
        summed.discount_base += line.discount_base
        summed.cost += line.cost
        summed.cost_unknown += line.cost_unknown
    summed.revenue, summed.refunds = summed.revenue_base, summed.refunds_base
    summed.discount = summed.discount_base
    return summed
