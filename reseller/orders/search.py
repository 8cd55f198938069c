"""Finding orders for the operator (`reseller orders list` and the console's orders page):
newest first, one page at a time by keyset on the id, so a page costs the same with a million
orders. The uncertain queue also lists the refills and drip-feed runs waiting to be resolved."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from reseller import db
from reseller.db import Q
from reseller.orders import links
from reseller.states import DispatchState


@dataclass(frozen=True, slots=True)
class Filters:
    """None or False: any."""

    customer: str | None = None  # the customer's name
    service: int | None = None
    provider: str | None = None
    status: str | None = None
    dispatch_state: str | None = None  # DispatchState.UNCERTAIN: the uncertain queue
    link: str | None = None  # the same target as this link (`links.link_key`)
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
    async with pool.transaction() as tx:
        await tx.execute(Q.plan_for_these_filters)
        # One row more than shown tells whether there is another page.
        orders = await tx.fetch(
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
            None if filters.link is None else links.link_key(filters.link),
            filters.since,
            filters.until,
        )
        if not filters.uncertain or before is not None:
            return Page(orders[:limit], len(orders) > limit)
        asides = (filters.customer, filters.provider, limit + 1)
        refills = await tx.fetch(Q.list_uncertain_refills, *asides)
        runs = await tx.fetch(Q.list_uncertain_runs, *asides)
    return Page(
        orders[:limit],
        len(orders) > limit,
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
