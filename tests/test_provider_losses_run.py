"""1000 orders through a panel that keeps some refunds and overcharges some orders: every
order it short-changed us on by more than the tolerance is found, with the amount, none it
treated fairly is, and our customers' refunds are exactly what they were owed."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace
from decimal import Decimal

from support import money_holds

from reseller.simulator import SimOrder, outcomes

TOLERANCE = Decimal("0.01")
RATE = Decimal("0.90")  # the panel's rate for service 1, per 1000


def kept_beyond_rate(order: SimOrder) -> Decimal:
    """The panel's own books: what it charged beyond its rate on what it delivered."""
    return order.current_charge - RATE * (order.quantity - order.remains) / 1000


async def test_1000_orders_with_unhonoured_refunds_and_overcharges_are_checked(stack) -> None:
    """With `strict_answers: false`, so that overcharged orders settle too (with it on they are
    frozen on the answer, their loss recorded all the same: test_provider_losses)."""
    lenient = [replace(p, strict_answers=False) for p in stack.live.current.providers]
    stack.upstreams.update(lenient)
    state = stack.sim.state
    state.config.partial_ratio, state.config.cancel_ratio = 0.3, 0.1
    state.config.unrefunded_ratio, state.config.overcharge_ratio = 0.2, 0.05
    state.balance = Decimal(10000)
    await stack.pool.execute("UPDATE customers SET balance = 2000, rate_limit_per_minute = 100000")
    await stack.pool.execute(
        "INSERT INTO ledger (customer_id, amount, kind, reason)"
        " VALUES (1, 1900, 'topup', 'load test')"
    )
    gate = asyncio.Semaphore(50)

    async def place(n: int) -> None:
        async with gate:
            await stack.add(link=f"https://ig.com/run/{n}", quantity=1000)

    await asyncio.gather(*(place(n) for n in range(1000)))
    await stack.settle(within=60)
    state.skip(10)  # the panel finishes every order
    await stack.jobs.status()
    assert await stack.pool.fetchval("SELECT count(*) FROM orders WHERE settled_at IS NULL") == 0

    truth = {str(o.id): kept_beyond_rate(o) for o in state.orders.values()}
    found = {
        r["upstream_order_id"]: (r["status"], r["kinds"], r["at_stake"])
        for r in await stack.pool.fetch(
            "SELECT o.upstream_order_id, o.status, array_agg(p.kind ORDER BY p.kind) AS kinds,"
            " sum(p.at_stake) AS at_stake FROM provider_losses p JOIN orders o ON o.id = p.order_id"
            " GROUP BY 1, 2"
        )
    }
    assert set(found) <= {u for u, kept in truth.items() if kept > TOLERANCE}  # no false alarm
    assert {u for u, kept in truth.items() if kept > 2 * TOLERANCE} <= set(found)
    for upstream_id, (_, _, at_stake) in found.items():
        assert at_stake <= truth[upstream_id]  # less only by a part within the tolerance
    tally = Counter(f"{status} {'+'.join(kinds)}" for status, kinds, _ in found.values())
    kept_total = sum((kept for kept in truth.values() if kept > 0), Decimal(0))
    found_total = sum((at_stake for *_, at_stake in found.values()), Decimal(0))
    unrefunded_partials = [
        str(o.id)
        for o in state.orders.values()
        if o.status == "Partial" and outcomes.keeps_refund(state.config, o.id)
    ]
    caught = [u for u in unrefunded_partials if "unrefunded" in found.get(u, ((), ()))[1]]
    print(
        f"\n1000 orders: {dict(tally)}; kept {kept_total}, found {found_total} USD;"
        f" {len(caught)} of {len(unrefunded_partials)} unrefunded Partials found"
    )
    assert (len(caught), len(unrefunded_partials)) == (64, 64)
    assert dict(tally) == {
        "Partial unrefunded": 61,
        "Partial overcharged+unrefunded": 4,
        "Partial overcharged": 10,
        "Canceled unrefunded": 21,
        "Canceled overcharged+unrefunded": 1,
        "Completed overcharged": 34,
    }
    assert (kept_total, found_total) == (Decimal("56.45385"), Decimal("56.45232"))
    await money_holds(stack.pool)
