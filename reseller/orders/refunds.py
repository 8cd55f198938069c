"""Giving money back: what an order is owed (the rule) and moving exactly that, once (the
mechanism). Only `orders.lifecycle` calls these, inside its transitions.

A refund is expressed as the total the customer is owed back for an order, never as an
increment: under the order's row lock, only the gap between what is owed and what was already
refunded moves. Two jobs, a restart mid-batch or the same upstream answer seen twice therefore
refund nothing more, and `refunded <= charge` holds by construction (and by a CHECK).
"""

from __future__ import annotations

from decimal import Decimal

from reseller import db, money
from reseller.db import Q
from reseller.states import OrderStatus
from reseller.upstream.parse import StatusAnswer

# --- the rule ---


def unusable(answer: StatusAnswer, total_quantity: int) -> str | None:
    """Why a final answer cannot be settled on, or None. A Partial owes back its undelivered
    share, so its `remains` must say how much that is: missing, unknown, negative, zero (a
    Partial with nothing undelivered contradicts itself) or above the quantity, it cannot."""
    if answer.status != OrderStatus.PARTIAL:
        return None
    if answer.remains is None:
        return "Partial without a usable remains"
    if not 0 < answer.remains <= total_quantity:
        return f"Partial with remains {answer.remains} of {total_quantity}"
    return None


def owed_back(charge: Decimal, total_quantity: int, answer: StatusAnswer) -> Decimal:
    """Canceled: everything. Partial: charge × remains / quantity, rounded down so a refund
    never exceeds what is undelivered. Completed: nothing. Call only on a usable answer."""
    if answer.status == OrderStatus.CANCELED:
        return charge
    if answer.status == OrderStatus.PARTIAL:
        why = unusable(answer, total_quantity)
        if why is not None or answer.remains is None:
            raise ValueError(f"cannot settle on it: {why}")
        return money.quantize_down(charge * answer.remains / total_quantity)
    return Decimal(0)


# --- the mechanism ---


async def refund_to(conn: db.Transaction, order_id: int, owed: Decimal, *, reason: str) -> Decimal:
    """Bring the order's refunds up to `owed` (capped at its charge); what moved now.
    Call inside a transaction."""
    row = await conn.fetchrow(Q.lock_order_money, order_id)
    gap = min(owed, row["charge"]) - row["refunded"]
    if gap <= 0:
        return Decimal(0)
    await conn.execute(Q.add_refund, order_id, gap)
    await conn.execute(Q.credit_for_refund, row["customer_id"], gap, order_id, reason)
    return gap
