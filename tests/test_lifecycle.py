"""The order life cycle has one writer (`orders/lifecycle.py`), and every transition that
moves money is one transaction: interrupted (a PostgreSQL trigger fails its refund, as a crash
or a dropped connection would), the order is found before it, never between; run again, after."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import money_holds, refunds_fail
from test_sync import placed, upstream_of

from reseller import errors
from reseller.audit import Actor
from reseller.orders import resolve

PACKAGE = Path(__file__).parent.parent / "reseller"
LIFECYCLE_SQL = PACKAGE.parent / "sql" / "queries" / "lifecycle.sql"


async def test_an_interrupted_refusal_leaves_the_order_queued_then_refunds_it_once(stack) -> None:
    stack.sim.state.remove_service(1)  # the only candidate refuses: no candidate left
    async with refunds_fail(stack.pool):
        order_id = (await stack.add(link="https://ig.com/cut-refusal"))["order"]
        await stack.dispatcher.idle()
    order = await stack.order(order_id)
    assert (order["status"], order["dispatch_state"], order["refunded"]) == (
        "Pending",
        "queued",
        0,
    )
    await stack.settle()  # the queue picks it up again
    order = await stack.order(order_id)
    assert (order["status"], order["refunded"]) == ("Canceled", order["charge"])
    await money_holds(stack.pool)


async def test_an_interrupted_settlement_leaves_the_order_open_then_settles_it_once(
    stack,
) -> None:
    [order_id] = await placed(stack)
    stack.sim.state.force_status(await upstream_of(stack, order_id), "Partial", remains=40)
    async with refunds_fail(stack.pool):
        counts = await stack.jobs.status()
    assert counts["write_failed"] == 1  # counted and logged, not lost in a task
    order = await stack.order(order_id)
    assert (order["settled_at"], order["refunded"], order["status"]) == (None, 0, "Processing")
    await stack.pool.execute("UPDATE orders SET last_polled_at = NULL")
    await stack.jobs.status()
    order = await stack.order(order_id)
    assert (order["status"], order["refunded"]) == ("Partial", order["charge"] * 40 / 100)
    await money_holds(stack.pool)


async def test_an_interrupted_operator_refund_leaves_the_order_uncertain(stack) -> None:
    stack.sim.state.config.faults.timeout = 1.0
    order_id = (await stack.add(link="https://ig.com/cut-resolve"))["order"]
    await stack.settle()
    async with refunds_fail(stack.pool):
        with pytest.raises(Exception, match="injected fault"):
            await resolve.refund(stack.pool, order_id, by=Actor("test"))
    order = await stack.order(order_id)
    assert (order["dispatch_state"], order["status"], order["refunded"]) == (
        "uncertain",
        "Pending",
        0,
    )
    assert await stack.pool.fetchval("SELECT count(*) FROM audit_log") == 0
    assert await resolve.refund(stack.pool, order_id, by=Actor("test")) == order["charge"]
    with pytest.raises(errors.NotFound):  # decided once
        await resolve.refund(stack.pool, order_id, by=Actor("test"))
    await money_holds(stack.pool)
