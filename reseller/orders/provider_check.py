"""Checking the provider's side of an order: what it should have charged us (its rate when the
order was sent × the share its final status says was delivered) against the `charge` it
reports. Where it kept more, a loss is recorded (`provider_losses`), one row per kind:

- `unrefunded`: a Partial or Canceled whose charge did not come down to the delivered share —
  we refunded our customer, the provider did not refund us;
- `overcharged`: a charge above rate × units, whatever the status.

A check on the provider, never on our customer: what the customer is refunded follows our own
rule (`refunds`), whatever the provider does, and a failing check never blocks a settlement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from reseller import db, errors, logs, service_types
from reseller.db import Q
from reseller.states import OrderStatus

log = logs.get_logger()
UNREFUNDED = "unrefunded"
OVERCHARGED = "overcharged"


@dataclass(frozen=True, slots=True)
class Loss:
    order_id: int
    kind: str
    provider: str
    expected: Decimal  # what the provider should have charged, in its currency
    charged: Decimal  # what it reports charging
    at_stake: Decimal  # this kind's share of the difference


def full_cost(rate: Decimal, *, units: int, runs: int, per_package: bool) -> Decimal:
    """What the whole order costs at the provider's rate (unrounded)."""
    return rate * runs if per_package else rate * units / 1000


def delivered_cost(
    full: Decimal, *, status: str, units: int, remains: int | None, per_package: bool
) -> Decimal | None:
    """What a settled order should finally cost: Completed all, Canceled none, Partial the
    delivered share. None: it cannot be told (a package's remains count the panel's own unit)."""
    if status == OrderStatus.CANCELED:
        return Decimal(0)
    if status != OrderStatus.PARTIAL:
        return full
    if per_package or remains is None or not 0 <= remains <= units:
        return None
    return full * (units - remains) / units


def losses(order: db.Record, *, tolerance: Decimal) -> list[Loss]:
    """What the provider kept beyond `tolerance` (rounding) on one order (`orders_to_check`).

    The final charge alone cannot always tell an unhonoured refund from an overcharge: a
    Partial whose charge came down, but not to the delivered share, was refunded at a rate
    above ours (overcharged); one whose charge did not come down was not refunded (unrefunded,
    up to the full cost; anything above it overcharged). A Canceled owes everything back."""
    per_package = order["type"] in service_types.PACKAGE_TYPES
    units, charged = order["units"], order["cost"]
    full = full_cost(
        order["upstream_rate"], units=units, runs=order["runs"], per_package=per_package
    )
    owes_refund = order["settled"] and order["status"] in (
        OrderStatus.PARTIAL,
        OrderStatus.CANCELED,
    )
    owed: Decimal | None = full
    if owes_refund:
        owed = delivered_cost(
            full,
            status=order["status"],
            units=units,
            remains=order["remains"],
            per_package=per_package,
        )
    found = []

    def note(kind: str, expected: Decimal, at_stake: Decimal) -> None:
        if at_stake > tolerance:
            found.append(Loss(order["id"], kind, order["provider"], expected, charged, at_stake))

    came_down = charged < full - tolerance
    if owed is None or not owes_refund:  # no refund owed, or none we can size
        note(OVERCHARGED, full, charged - full)
    elif order["status"] == OrderStatus.PARTIAL and came_down:
        note(OVERCHARGED, owed, charged - owed)
    else:
        note(UNREFUNDED, owed, min(charged, full) - owed)
        note(OVERCHARGED, full, charged - full)
    return found


async def check(pool: db.Executor, order_ids: Sequence[int], *, tolerance: Decimal) -> None:
    """Bring these orders' loss records up to their charges now (a later, lower charge clears
    one). Orders without a known rate or charge are left as they are."""
    rows = await pool.fetch(Q.orders_to_check, list(order_ids))
    if not rows:
        return
    found = [loss for row in rows for loss in losses(row, tolerance=tolerance)]
    checked = [r["id"] for r in rows]
    await pool.execute(
        Q.forget_losses, checked, [x.order_id for x in found], [x.kind for x in found]
    )
    if not found:
        return
    columns = zip(
        *((x.order_id, x.kind, x.provider, x.expected, x.charged, x.at_stake) for x in found),
        strict=True,
    )
    for new in await pool.fetch(Q.record_losses, *map(list, columns)):
        log.warning(
            "provider_loss_found",
            order=new["order_id"],
            provider=new["provider"],
            kind=new["kind"],
            at_stake=str(new["at_stake"]),
        )


async def check_within(conn: db.Transaction, order_id: int, *, tolerance: Decimal) -> None:
    """`check`, inside a settlement's transaction: recorded with it, and a failure undoes the
    check alone (logged) so that the settlement still commits."""
    try:
        async with conn.savepoint():
            await check(conn, [order_id], tolerance=tolerance)
    except errors.DatabaseUnavailable:
        raise  # the transaction is lost with its connection anyway
    except Exception as exc:  # a bug or a constraint here must not hold the customer's refund
        log.error("provider_check_failed", order=order_id, error=str(exc))
