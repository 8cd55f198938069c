"""The provider's side of every order, over HTTP with the simulated panel: refunds it does not
honour and overcharges are found with the amount at stake, and never change what our customer
is refunded."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from support import money_holds, refunds_fail
from test_sync import placed, upstream_of

# Service 1 costs 0.90 per 1000 upstream and sells at 1.35: 1000 units cost 0.90.
UNITS = 1000


async def losses(stack) -> dict[tuple[int, str], tuple[Decimal, Decimal, Decimal]]:
    rows = await stack.pool.fetch("SELECT * FROM provider_losses")
    return {(r["order_id"], r["kind"]): (r["expected"], r["charged"], r["at_stake"]) for r in rows}


async def poll(stack) -> None:
    """One status pass that asks about every open order: the stack polls an order at most
    every 0.01 s (sync.min_poll_seconds), and a pass right after another would skip it."""
    await asyncio.sleep(0.02)
    await stack.jobs.status()


async def finish(stack, order_id: int, status: str, remains: int | None = None) -> None:
    stack.sim.state.force_status(await upstream_of(stack, order_id), status, remains=remains)
    await poll(stack)


async def test_the_upstream_rate_is_kept_when_the_order_is_sent(stack) -> None:
    [order_id] = await placed(stack, quantity=UNITS)
    assert (await stack.order(order_id))["upstream_rate"] == Decimal("0.90")


async def test_an_unrefunded_partial_is_found_with_the_amount_at_stake(stack) -> None:
    stack.sim.state.config.unrefunded_ratio = 1.0  # the panel keeps every refund
    [order_id] = await placed(stack, quantity=UNITS)
    await finish(stack, order_id, "Partial", remains=400)
    order = await stack.order(order_id)
    assert order["cost"] == Decimal("0.9")  # its charge stayed full
    # 600 of 1000 delivered: 0.54 expected, 0.36 kept by the provider.
    assert await losses(stack) == {
        (order_id, "unrefunded"): (Decimal("0.54"), Decimal("0.9"), Decimal("0.36"))
    }
    assert order["refunded"] == Decimal("0.54")  # our customer: 1.35 × 400 / 1000, as ever
    assert stack.sim.state.balance == Decimal("999.1")  # nor was the panel's balance credited
    await money_holds(stack.pool)


async def test_an_honoured_partial_is_not_flagged(stack) -> None:
    [order_id] = await placed(stack, quantity=UNITS)
    await finish(stack, order_id, "Partial", remains=400)
    assert (await stack.order(order_id))["cost"] == Decimal("0.54")
    assert await losses(stack) == {}
    await money_holds(stack.pool)


async def test_a_canceled_order_kept_at_full_charge_is_found(stack) -> None:
    stack.sim.state.config.unrefunded_ratio = 1.0
    [order_id] = await placed(stack, quantity=UNITS)
    await finish(stack, order_id, "Canceled")
    assert await losses(stack) == {
        (order_id, "unrefunded"): (Decimal(0), Decimal("0.9"), Decimal("0.9"))
    }
    assert (await stack.order(order_id))["refunded"] == Decimal("1.35")
    await money_holds(stack.pool)


async def test_an_overcharge_is_found_while_in_progress_and_when_settled(stack) -> None:
    stack.sim.state.config.overcharge_ratio = 1.0
    stack.sim.state.config.overcharge_percent = Decimal(20)
    [order_id] = await placed(stack, quantity=UNITS)
    stack.sim.state.force_status(await upstream_of(stack, order_id), "In progress")
    await poll(stack)
    found = {(order_id, "overcharged"): (Decimal("0.9"), Decimal("1.08"), Decimal("0.18"))}
    assert await losses(stack) == found
    await finish(stack, order_id, "Completed")
    assert await losses(stack) == found
    assert (await stack.order(order_id))["refunded"] == 0
    await money_holds(stack.pool)


async def test_an_overcharged_partial_refunded_pro_rata_is_overcharged_not_unrefunded(
    stack,
) -> None:
    stack.sim.state.config.overcharge_ratio = 1.0
    stack.sim.state.config.overcharge_percent = Decimal(20)
    [order_id] = await placed(stack, quantity=UNITS)
    await finish(stack, order_id, "Partial", remains=400)  # 1.08 × 600 / 1000 = 0.648
    assert await losses(stack) == {
        (order_id, "overcharged"): (Decimal("0.54"), Decimal("0.648"), Decimal("0.108"))
    }
    await money_holds(stack.pool)


async def test_a_difference_within_the_tolerance_is_rounding(stack) -> None:
    stack.sim.state.config.overcharge_ratio = 1.0
    stack.sim.state.config.overcharge_percent = Decimal(1)  # 0.009 over: under a cent
    [order_id] = await placed(stack, quantity=UNITS)
    await finish(stack, order_id, "Completed")
    assert await losses(stack) == {}


async def test_an_interrupted_settlement_records_no_loss_and_the_next_poll_does_both(
    stack,
) -> None:
    stack.sim.state.config.unrefunded_ratio = 1.0
    [order_id] = await placed(stack, quantity=UNITS)
    async with refunds_fail(stack.pool):
        await finish(stack, order_id, "Partial", remains=400)
    order = await stack.order(order_id)
    assert (order["settled_at"], order["refunded"], await losses(stack)) == (None, 0, {})
    await poll(stack)
    assert (await stack.order(order_id))["refunded"] == Decimal("0.54")
    assert (order_id, "unrefunded") in await losses(stack)
    await money_holds(stack.pool)


@pytest.fixture
async def loss_records_fail(stack):
    """Every loss record written while inside fails (a bug, a constraint)."""
    await stack.pool.execute(
        "CREATE OR REPLACE FUNCTION test_losses_fail() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN RAISE EXCEPTION 'injected fault: loss record'; END; $$"
    )
    await stack.pool.execute(
        "CREATE TRIGGER test_losses_fail BEFORE INSERT ON provider_losses FOR EACH ROW"
        " EXECUTE FUNCTION test_losses_fail()"
    )
    yield
    await stack.pool.execute("DROP TRIGGER test_losses_fail ON provider_losses")


async def test_a_failing_check_never_holds_up_the_settlement(stack, loss_records_fail) -> None:
    stack.sim.state.config.unrefunded_ratio = 1.0
    [order_id] = await placed(stack, quantity=UNITS)
    await finish(stack, order_id, "Partial", remains=400)
    order = await stack.order(order_id)
    assert order["settled_at"] is not None
    assert order["refunded"] == Decimal("0.54")
    assert await losses(stack) == {}
    await money_holds(stack.pool)
