"""Scheduled sync against the simulated provider: statuses 100 per request, exact refunds
exactly once, refills, balances, flags, and a provider that is down."""

from __future__ import annotations

import asyncio
import itertools
from decimal import Decimal

from support import money_holds
from test_cli import run

from reseller.orders import lifecycle
from reseller.upstream.parse import StatusAnswer

_LINKS = itertools.count()


async def placed(stack, n: int = 1, quantity: int = 100) -> list[int]:
    """`n` orders placed with the panel, each on a link of its own (orders on one link would
    wait for each other)."""
    ids = [
        (await stack.add(link=f"https://ig.com/s{next(_LINKS)}", quantity=quantity))["order"]
        for _ in range(n)
    ]
    await stack.settle()
    return ids


async def upstream_of(stack, order_id: int) -> int:
    return int((await stack.order(order_id))["upstream_order_id"])


def status_requests(stack) -> int:
    return sum(1 for r in stack.sim.state.requests if r.action == "status")


async def customer_view(stack, order_id: int) -> dict:
    return await stack.api.call(key=stack.key, action="status", order=order_id)


async def test_order_goes_through_its_whole_life_to_completed(stack) -> None:
    [order_id] = await placed(stack)
    stack.sim.state.skip(10)  # the provider finishes it
    counts = await stack.jobs.status()
    assert counts["settled"] == 1
    view = await customer_view(stack, order_id)
    assert (view["status"], view["charge"], view["remains"]) == ("Completed", "0.135", "0")
    order = await stack.order(order_id)
    assert order["settled_at"] is not None
    assert order["cost"] == Decimal("0.09")  # what the provider charged us


async def test_in_progress_updates_remains_and_start_count(stack) -> None:
    [order_id] = await placed(stack)
    stack.sim.state.force_status(await upstream_of(stack, order_id), "In progress", remains=60)
    await stack.jobs.status()
    view = await customer_view(stack, order_id)
    assert (view["status"], view["remains"]) == ("In progress", "60")
    assert (await stack.order(order_id))["settled_at"] is None


async def test_partial_refunds_exactly_the_undelivered_share(stack) -> None:
    [order_id] = await placed(stack)
    stack.sim.state.force_status(await upstream_of(stack, order_id), "Partial", remains=40)
    await stack.jobs.status()
    view = await customer_view(stack, order_id)
    assert (view["status"], view["charge"], view["remains"]) == ("Partial", "0.081", "40")
    refunds = await stack.pool.fetch("SELECT amount FROM ledger WHERE kind = 'refund'")
    assert [r["amount"] for r in refunds] == [Decimal("0.054")]  # 0.135 × 40 / 100
    await money_holds(stack.pool)


async def test_canceled_refunds_everything(stack) -> None:
    [order_id] = await placed(stack)
    stack.sim.state.force_status(await upstream_of(stack, order_id), "Cancelled")
    await stack.jobs.status()
    view = await customer_view(stack, order_id)
    assert (view["status"], view["charge"]) == ("Canceled", "0.00")
    assert await stack.api.call(key=stack.key, action="balance") == {
        "balance": "100.00",
        "currency": "USD",
    }


async def test_the_same_answer_seen_many_times_refunds_once(stack) -> None:
    [order_id] = await placed(stack)
    answer = StatusAnswer("Partial", None, None, 40, None)
    moved = await asyncio.gather(
        *(
            lifecycle.settle(
                stack.pool, order_id, answer, max_poll_errors=10, loss_tolerance=Decimal("0.01")
            )
            for _ in range(5)
        )
    )
    assert sorted(moved) == [0, 0, 0, 0, Decimal("0.054")]
    await stack.jobs.status()
    await stack.jobs.status()
    assert await stack.pool.fetchval("SELECT count(*) FROM ledger WHERE kind = 'refund'") == 1
    await money_holds(stack.pool)


async def test_two_concurrent_pollers_share_the_work_and_refund_once(stack) -> None:
    from reseller.jobs.scheduler import Jobs
    from reseller.upstream import Upstreams

    ids = await placed(stack, 30)
    for order_id in ids:
        stack.sim.state.force_status(await upstream_of(stack, order_id), "Partial", remains=40)
    other = Upstreams(stack.live.current.providers)
    try:
        before = status_requests(stack)
        results = await asyncio.gather(
            stack.jobs.status(), Jobs(stack.pool, stack.live, other).status()
        )
    finally:
        await other.close()
    assert sum(r["refunded"] for r in results) == 30
    assert status_requests(stack) - before <= 2  # one batch of 30, split at most in two
    assert await stack.pool.fetchval("SELECT count(*) FROM ledger WHERE kind = 'refund'") == 30
    await money_holds(stack.pool)


async def test_250_orders_are_polled_with_3_status_requests(stack) -> None:
    await stack.pool.execute("UPDATE customers SET balance = 1000, rate_limit_per_minute = 10000")
    await stack.pool.execute(
        "INSERT INTO ledger (customer_id, amount, kind, reason) VALUES (1, 900, 'topup', 'test')"
    )
    await placed(stack, 250)
    before = status_requests(stack)
    counts = await stack.jobs.status()
    assert status_requests(stack) - before == 3
    assert counts["requests"] == 3
    sizes = [
        len(r.params["orders"].split(",")) for r in stack.sim.state.requests if r.action == "status"
    ]
    assert sorted(sizes) == [50, 100, 100]


async def test_a_provider_that_is_down_changes_nothing_and_recovers(stack) -> None:
    [order_id] = await placed(stack)
    stack.sim.state.force_status(await upstream_of(stack, order_id), "Partial", remains=40)
    stack.sim.state.down = True
    counts = await stack.jobs.status()
    assert counts["failed"] == 1
    assert (await stack.order(order_id))["settled_at"] is None
    stack.sim.state.down = False
    await stack.pool.execute("UPDATE orders SET last_polled_at = NULL")
    await stack.jobs.status()
    assert (await customer_view(stack, order_id))["charge"] == "0.081"


async def test_orders_the_provider_does_not_know_are_flagged_not_polled_forever(stack) -> None:
    [order_id] = await placed(stack)
    await stack.pool.execute("UPDATE orders SET upstream_order_id = '424242'")
    await stack.jobs.status()
    await stack.pool.execute("UPDATE orders SET last_polled_at = NULL")
    await stack.jobs.status()
    order = await stack.order(order_id)
    assert order["poll_stopped"] == "provider does not know it: Incorrect order ID"
    before = status_requests(stack)
    await stack.pool.execute("UPDATE orders SET last_polled_at = NULL")
    await stack.jobs.status()
    assert status_requests(stack) == before


async def poll_again(stack) -> None:
    await stack.pool.execute("UPDATE orders SET last_polled_at = NULL")
    await stack.jobs.status()


async def test_partials_with_unusable_remains_wait_for_a_usable_answer_then_refund_exactly(
    stack,
) -> None:
    stack.sim.state.config.partial_ratio = 1.0
    stack.sim.state.config.faults.odd_remains = 1.0  # remains "Unknown" or negative
    ids = await placed(stack, 20)
    stack.sim.state.skip(10)  # every order ends Partial upstream
    counts = await stack.jobs.status()
    assert counts["unusable"] + counts["frozen"] == 20  # negative remains freeze (strict)
    open_orders = await stack.pool.fetchval(
        "SELECT count(*) FROM orders WHERE settled_at IS NULL AND refunded = 0"
        " AND poll_stopped IS NULL"
    )
    assert open_orders == 20  # nothing settled on numbers that cannot be used, still polled
    stack.sim.state.config.faults.odd_remains = 0.0
    await poll_again(stack)
    for order_id in ids:
        order = await stack.order(order_id)
        assert (order["status"], order["settled_at"] is not None) == ("Partial", True)
        assert order["refunded"] > 0
    await money_holds(stack.pool)  # each refund exactly the undelivered share


async def test_a_partial_that_stays_unusable_is_flagged_with_its_money_held(
    stack, cli_env, capsys
) -> None:
    [order_id] = await placed(stack)
    stack.sim.state.force_status(await upstream_of(stack, order_id), "Partial", remains=40)
    stack.sim.state.config.faults.odd_remains = 1.0
    # "Unknown" remains are poll errors; negative ones freeze it (strict) and do not count.
    for _ in range(20):
        await poll_again(stack)
        if (await stack.order(order_id))["poll_stopped"] is not None:
            break
    order = await stack.order(order_id)
    assert order["poll_stopped"].startswith("Partial with")
    assert (order["settled_at"], order["refunded"]) == (None, 0)
    before = status_requests(stack)
    await poll_again(stack)
    assert status_requests(stack) == before  # flagged: no longer polled
    code, out, _ = await run(capsys, "orders", "list", "--flagged")
    assert code == 0
    assert f"\n{order_id} " in out
    assert "Partial with" in out
    from reseller import metrics

    assert b"reseller_flagged_orders 1.0" in await metrics.render(stack.pool)
    await money_holds(stack.pool)


async def test_refill_statuses_are_synced(stack) -> None:
    [order_id] = await placed(stack)
    stack.sim.state.force_status(await upstream_of(stack, order_id), "Completed")
    await stack.jobs.status()
    refill = (await stack.api.call(key=stack.key, action="refill", order=order_id))["refill"]
    for _ in range(10):
        await stack.dispatcher.scan_once()
        await asyncio.sleep(0.02)
    upstream_refill = await stack.pool.fetchval("SELECT upstream_refill_id FROM refills")
    stack.sim.state.force_refill_status(int(upstream_refill), "Completed")
    counts = await stack.jobs.refills()
    assert counts["updated"] == 1
    assert await stack.api.call(key=stack.key, action="refill_status", refill=refill) == {
        "status": "Completed"
    }


async def test_provider_balance_is_recorded_and_flagged_when_low(stack) -> None:
    counts = await stack.jobs.balances()
    assert (counts["checked"], counts["low"]) == (1, 0)
    from dataclasses import replace

    low = replace(stack.live.current.providers[0], balance_alert=Decimal("5000"))
    stack.upstreams.update([low])
    counts = await stack.jobs.balances()
    row = await stack.pool.fetchrow("SELECT balance, low FROM provider_balances")
    assert (counts["low"], row["low"]) == (1, True)
    assert row["balance"] == Decimal("1000")


async def test_catalog_job_resyncs_the_catalog(stack) -> None:
    stack.sim.state.set_rate(1, Decimal("2.00"))
    counts = await stack.jobs.catalog()
    assert counts["offered"] == 11
    from reseller import catalog

    assert (await catalog.load(stack.pool)).get(1).rate == Decimal("3.00")  # 2.00 + 50 %


async def test_two_worker_processes_settle_every_order_once(stack, dsn, tmp_path) -> None:
    import os
    import signal

    from support import poll_until, spawn_reseller

    ids = await placed(stack, 20)
    for order_id in ids:
        stack.sim.state.force_status(await upstream_of(stack, order_id), "Partial", remains=40)
    path = tmp_path / "config.yaml"
    path.write_text(
        f'providers:\n  - {{name: sim, url: "{stack.sim.url}", key_env: SIM_TEST_KEY}}\n'
        "sync: {status_seconds: 0.2, min_poll_seconds: 0.1}\n"
        "pricing: {markup_percent: 50}\n"
        "services:\n  - {id: 1, provider: sim, upstream_service: 1}\n"
    )
    env = {**os.environ, "RESELLER_DSN": dsn, "RESELLER_CONFIG": str(path)}
    workers = [await spawn_reseller("worker", env=env, cwd=tmp_path) for _ in range(2)]

    async def all_settled() -> bool:
        open_orders = await stack.pool.fetchval(
            "SELECT count(*) FROM orders WHERE settled_at IS NULL"
        )
        return open_orders == 0

    try:
        await poll_until(all_settled, within=20)
        await asyncio.sleep(0.5)  # more rounds by both: nothing more moves
    finally:
        for proc in workers:
            proc.send_signal(signal.SIGTERM)
        outputs = [(await proc.communicate())[0].decode() for proc in workers]
    assert [proc.returncode for proc in workers] == [0, 0], outputs
    assert all('"job_run"' in out for out in outputs)
    refunds = await stack.pool.fetch(
        "SELECT order_id, count(*) AS n, sum(amount) AS total FROM ledger"
        " WHERE kind = 'refund' GROUP BY order_id"
    )
    assert len(refunds) == 20
    assert all(r["n"] == 1 and r["total"] == Decimal("0.054") for r in refunds)
    await money_holds(stack.pool)


async def test_a_provider_short_of_funds_is_paused_and_orders_wait(stack) -> None:
    from dataclasses import replace

    provider = stack.live.current.providers[0]
    stack.upstreams.update([replace(provider, pause_below=Decimal("5000"))])
    await stack.jobs.balances()  # 1000 < 5000: paused
    await stack.dispatcher.scan_once()
    order_id = (await stack.add(link="https://ig.com/paused"))["order"]
    await asyncio.sleep(0.1)
    order = await stack.order(order_id)
    assert (order["dispatch_state"], order["refunded"]) == ("queued", 0)
    assert stack.sim.state.adds_for_link("https://ig.com/paused") == 0
    stack.upstreams.update([provider])  # topped up (or the threshold lowered)
    await stack.jobs.balances()
    await stack.pool.execute("UPDATE orders SET dispatch_after = now()")
    await stack.settle()
    assert (await stack.order(order_id))["dispatch_state"] == "placed"
    assert stack.sim.state.adds_for_link("https://ig.com/paused") == 1
