"""Orders from the customer's side: placing them (money first), and what they may ask of them.

Placing an order debits the customer, inserts the order and its ledger entry in one statement
(several orders of one customer at once: `place_together`): never a negative balance, never an
order without its charge. The order then waits as `Pending` for dispatch upstream.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from reseller import db, errors
from reseller.catalog import Service
from reseller.customers import Customer
from reseller.db import Q
from reseller.orders import drip, links
from reseller.service_types.rules import OrderRequest


@dataclass(frozen=True, slots=True)
class Placement:
    """One add, priced: `request.charge` is in the customer's currency, priced at
    `currency_rate` (what 1 unit of it is worth in the base currency): both are stored with the
    order, and `list_charge`, what the price list would have charged (the customer's discount
    is the difference)."""

    customer: Customer
    service: Service
    request: OrderRequest
    currency_rate: Decimal
    list_charge: Decimal | None

    def arguments(self) -> tuple[object, ...]:
        """place_order's $2-$13. The link's key lets dispatch hold the order while that target
        has an active one upstream. A drip-feed on a service whose drip-feed is ours is placed
        with its runs (`orders.drip`)."""
        request = self.request
        return (
            request.charge,
            self.service.id,
            request.link,
            request.quantity,
            request.runs,
            request.interval,
            request.fields,
            self.customer.currency,
            self.currency_rate,
            self.list_charge,
            links.link_key(request.link) if request.link else None,
            bool(request.runs) and self.service.dripfeed_emulated,
        )


async def place(pool: db.Database, placement: Placement) -> int:
    """The new order's ID."""
    order_id = await pool.fetchval(Q.place_order, placement.customer.id, *placement.arguments())
    if order_id is None:
        raise errors.InsufficientBalance()
    return int(order_id)


async def place_together(pool: db.Database, placements: Sequence[Placement]) -> list[int | None]:
    """Several adds of one customer in one transaction (`orders.batching`), each accepted in
    turn if what the ones before it left covers it: each one's order ID, or None where the
    balance did not cover it."""
    customer_ids = {p.customer.id for p in placements}
    if len(customer_ids) != 1:
        raise ValueError(f"one customer's adds go together, not {sorted(customer_ids)}")
    columns = [list(column) for column in zip(*(p.arguments() for p in placements), strict=True)]
    rows = await pool.fetch(Q.place_orders, customer_ids.pop(), *columns)
    ids = {row["n"]: int(row["id"]) for row in rows}
    return [ids.get(n) for n in range(1, len(placements) + 1)]


async def statuses_answer(pool: db.Database, customer_id: int, tokens: Sequence[str]) -> bytes:
    """The status answer for the IDs as sent (an object keyed by them), as JSON bytes built by
    the database: 100 orders through Python objects cost more than the query."""
    return (await pool.fetchval(Q.order_statuses_json, customer_id, list(tokens))).encode()


async def request_refill(pool: db.Database, customer_id: int, order_id: int) -> int:
    """A new refill request's ID, or the reason there is none."""
    refill_id = await pool.fetchval(Q.request_refill, customer_id, order_id)
    if refill_id is not None:
        return int(refill_id)
    if not await pool.fetchval(Q.order_exists, customer_id, order_id):
        raise errors.IncorrectOrderId()
    raise errors.RefillNotAvailable()


async def refill_statuses(
    pool: db.Database, customer_id: int, ids: Sequence[int]
) -> dict[int, str]:
    rows = await pool.fetch(Q.refill_statuses, customer_id, list(ids))
    return {r["id"]: r["status"] for r in rows}


async def request_cancel(pool: db.Database, customer_id: int, order_id: int) -> None:
    """Record a cancel request for dispatch upstream; the refund follows upstream's answer.
    An emulated drip-feed is stopped here instead (`drip.cancel`)."""
    if await drip.cancel(pool, customer_id, order_id):
        return
    if await pool.fetchval(Q.request_cancel, customer_id, order_id) is not None:
        return
    if not await pool.fetchval(Q.order_exists, customer_id, order_id):
        raise errors.IncorrectOrderId()
    raise errors.CancelNotAvailable()


async def balance(pool: db.Database, customer_id: int) -> tuple[Decimal, str]:
    row = await pool.fetchrow(Q.customer_balance, customer_id)
    return row["balance"], row["currency"]
