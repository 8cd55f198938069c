"""Provider balances against our expected spend, per provider and per day.

Each day runs from the last balance read before it (or its first one) to its last one: the
balance's drop over that period, against what we expected the provider to take in it — the
cost at its rate of the orders placed in it, less the refunds it owed on the orders settled in
it. Periods follow each other reading to reading, so no order is counted twice or missed.

What it cannot know: top-ups (a balance that rose is taken to be one, and its day has no drift),
orders placed on the panel by other means, and the moment the provider refunded (we learn of a
refund when we poll, up to `sync.status_seconds` later, so it may land in the next period).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from itertools import groupby

from reseller import db, service_types
from reseller.db import Q
from reseller.orders import provider_check
from reseller.states import OrderStatus

TOP_UP = "balance rose: taken as a top-up (not known to reseller), no drift"
MORE = "took more than expected"
LESS = "took less than expected: a top-up, or a refund seen late"


@dataclass(frozen=True, slots=True)
class DriftDay:
    provider: str
    day: date
    currency: str
    opening: Decimal  # the balance before the day's spend
    closing: Decimal  # its last balance that day
    expected: Decimal  # what we expected it to take: placed cost less refunds owed
    unknown: int  # orders whose rate is unknown: left out of `expected`
    tolerance: Decimal

    @property
    def drop(self) -> Decimal:
        return self.opening - self.closing

    @property
    def drift(self) -> Decimal | None:
        """Taken beyond what we expected (negative: less). None: the balance rose."""
        return None if self.drop < 0 else self.drop - self.expected

    @property
    def note(self) -> str:
        if self.drift is None:
            return TOP_UP
        if self.drift > self.tolerance:
            return MORE
        return LESS if self.drift < -self.tolerance else ""


async def days(
    pool: db.Database, *, start: datetime, end: datetime, tolerance: Decimal
) -> list[DriftDay]:
    found = []
    readings = await pool.fetch(Q.balance_readings, start, end)
    for provider, of_provider in groupby(readings, key=lambda r: r["provider"]):
        before: db.Record | None = None  # the last reading before the day
        for day, of_day in groupby(of_provider, key=day_of):
            rows = list(of_day)
            if rows[0]["checked_at"] >= start:  # not the reading before the first day
                opening, closing = before or rows[0], rows[-1]
                expected, unknown = await _expected(
                    pool, provider, opening["checked_at"], closing["checked_at"]
                )
                found.append(
                    DriftDay(
                        provider=provider,
                        day=day,
                        currency=closing["currency"],
                        opening=opening["balance"],
                        closing=closing["balance"],
                        expected=expected,
                        unknown=unknown,
                        tolerance=tolerance,
                    )
                )
            before = rows[-1]
    return found


def day_of(reading: db.Record) -> date:
    return reading["checked_at"].date()  # type: ignore[no-any-return]


async def _expected(
    pool: db.Database, provider: str, after: datetime, until: datetime
) -> tuple[Decimal, int]:
    """What the provider should have taken in (after, until], and how many orders in it have no
    known rate."""
    total, unknown = Decimal(0), 0
    for order in await pool.fetch(Q.spend_in_period, provider, after, until):
        if order["upstream_rate"] is None:
            unknown += 1
            continue
        per_package = order["type"] in service_types.PACKAGE_TYPES
        full = provider_check.full_cost(
            order["upstream_rate"],
            units=order["units"],
            runs=order["runs"],
            per_package=per_package,
        )
        if order["placed_in"]:
            total += full
        if order["settled_in"] and order["status"] in (OrderStatus.PARTIAL, OrderStatus.CANCELED):
            owed = provider_check.delivered_cost(
                full,
                status=order["status"],
                units=order["units"],
                remains=order["remains"],
                per_package=per_package,
            )
            total -= full - (full if owed is None else owed)
    return total, unknown
