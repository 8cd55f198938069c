"""Finding orders for the operator (`reseller orders list` and the console's orders page):
newest first, one page at a time by keyset on the id, so a page costs the same with a million
orders. The uncertain queue also lists the refills and drip-feed runs waiting to be resolved."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from reseller import db
from reseller.db import Q
from reseller.states import DispatchState


@dataclass(frozen=True, slots=True)
class Filters:
    """None or False: any."""

    customer: str | None = None  # the customer's name
    service: int | None = None
    provider: str | None = None
    status: str | None = None
    dispatch_state: str | None = None  # DispatchState.UNCERTAIN: the uncertain queue
    link: str | None = None  # text the link contains
    since: date | None = None  # created on or after this day (UTC)
    until: date | None = None  # created on or before this day (UTC)
    flagged: bool = False  # no longer polled, or frozen, and not settled
    waiting: bool = False  # held in the queue behind an active order on its link

    @property
    def uncertain(self) -> bool:
        return self.dispatch_state == DispatchState.UNCERTAIN


@dataclass(frozen=True, slots=True)
class Page:
    orders: list[db.Record]
    more: bool  # the next page: orders before the last one here
    # The uncertain queue's first page only (the keyset pages orders): refills and runs.
    refills: list[db.Record] = field(default_factory=list)
    more_refills: bool = False
    runs: list[db.Record] = field(default_factory=list)
    more_runs: bool = False


async def find(
    pool: db.Database, filters: Filters, *, limit: int, before: int | None = None
) -> Page:
    """Up to `limit` orders matching `filters` with ids below `before`. Uncertain refills and
    runs are filtered by customer and provider alone: they have no service, link or date of
    their own to match."""
    # One row more than shown tells whether there is another page.
    orders = await pool.fetch(
        Q.list_orders,
        filters.dispatch_state,
        filters.status,
        filters.customer,
        filters.provider,
        limit + 1,
        filters.flagged,
        before,
        filters.waiting,
        filters.service,
        filters.link,
        _midnight(filters.since),
        _midnight(filters.until + timedelta(days=1) if filters.until else None),
    )
    page = Page(orders[:limit], len(orders) > limit)
    if not filters.uncertain or before is not None:
        return page
    asides = (filters.customer, filters.provider, limit + 1)
    refills = await pool.fetch(Q.list_uncertain_refills, *asides)
    runs = await pool.fetch(Q.list_uncertain_runs, *asides)
    return Page(
        page.orders,
        page.more,
        refills[:limit],
        len(refills) > limit,
        runs[:limit],
        len(runs) > limit,
    )


def upstream(row: db.Record) -> str:
    """Where a listed order (refill, run) went: provider:upstream ID, the provider alone, or -."""
    if row["upstream_order_id"]:
        return f"{row['provider']}:{row['upstream_order_id']}"
    return str(row["provider"] or "-")


def _midnight(day: date | None) -> datetime | None:
    return None if day is None else datetime.combine(day, time(), UTC)
