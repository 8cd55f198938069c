"""Giving money back, exactly once.

A refund is expressed as the total the customer is owed back for an order, never as an
increment: under the order's row lock, only the gap between what is owed and what was already
refunded moves. Two jobs, a restart mid-batch or the same upstream answer seen twice therefore
refund nothing more, and `refunded <= charge` holds by construction (and by a CHECK).
"""

from __future__ import annotations

from decimal import Decimal

from reseller import db
from reseller.db import Q


async def refund_to(conn: db.Connection, order_id: int, owed: Decimal, *, reason: str) -> Decimal:
    """Bring the order's refunds up to `owed` (capped at its charge); what moved now.
    Call inside a transaction."""
    row = await conn.fetchrow(Q.lock_order_money, order_id)
    gap = min(owed, row["charge"]) - row["refunded"]
    if gap <= 0:
        return Decimal(0)
    await conn.execute(Q.add_refund, order_id, gap)
    await conn.execute(Q.credit_for_refund, row["customer_id"], gap, order_id, reason)
    return gap


async def cancel_unsent(pool: db.Pool, order_id: int, cancel_id: int) -> bool:
    """A cancel for an order still in our queue: the order is canceled, refunded in full and
    the cancel request answered in one transaction (interrupted, nothing of it happened and the
    request is simply tried again). False: the order had left the queue."""
    async with pool.acquire() as conn, conn.transaction():
        if await conn.fetchval(Q.cancel_unsent_order, order_id) is None:
            return False
        await refund_to(conn, order_id, Decimal("Infinity"), reason="canceled before dispatch")
        await conn.execute(Q.cancel_answered, cancel_id, "placed", "canceled locally")
    return True


async def refund_in_full(
    pool: db.Pool, order_id: int, *, reason: str, dispatch_state: str = "refused"
) -> Decimal:
    """Cancel the order and give everything back (a refusal, or the operator's decision)."""
    async with pool.acquire() as conn, conn.transaction():
        moved = await refund_to(conn, order_id, Decimal("Infinity"), reason=reason)
        await conn.execute(Q.close_order, order_id, "Canceled", dispatch_state, reason)
    return moved
