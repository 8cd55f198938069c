"""The operator's resolution of uncertain orders: an outcome we could not know, decided by
someone who checked the provider. Both ways are recorded (audit log, and ledger for money)."""

from __future__ import annotations

from decimal import Decimal

from reseller import db, errors, settlement
from reseller.db import Q


async def link(pool: db.Pool, order_id: int, upstream_order_id: str) -> None:
    """The provider has it: record its ID; the sync job takes it from there."""
    async with pool.acquire() as conn, conn.transaction():
        with db.translate_errors():
            linked = await conn.fetchval(Q.link_uncertain, order_id, upstream_order_id)
        if linked is None:
            raise errors.NotFound(f"order {order_id} is not uncertain")
        await conn.execute(
            Q.insert_audit,
            "resolve-link",
            f"order {order_id}",
            {"upstream_order": upstream_order_id},
        )


async def refund(pool: db.Pool, order_id: int) -> Decimal:
    """The provider does not have it: cancel and give everything back."""
    async with pool.acquire() as conn, conn.transaction():
        if await conn.fetchval(Q.uncertain_order, order_id) is None:
            raise errors.NotFound(f"order {order_id} is not uncertain")
        moved = await settlement.refund_to(
            conn, order_id, Decimal("Infinity"), reason="resolved by operator: not placed"
        )
        await conn.execute(
            Q.close_order, order_id, "Canceled", "refused", "resolved by operator: not placed"
        )
        await conn.execute(Q.insert_audit, "resolve-refund", f"order {order_id}", {})
    return moved
