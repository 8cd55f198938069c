"""Drip-feed emulation: a drip-feed on a service whose upstream has none is charged once for
runs × quantity and sent as `runs` plain orders, one per interval, each claimed before it is
sent, polled and settled; the customer sees one order. Real PostgreSQL, the real app over HTTP
with its dispatcher, the simulated panel. Intervals are minutes: tests bring a run's time
forward (`due_now`) instead of waiting."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import orjson
import pytest
import pytest_asyncio
from support import money_holds, poll_until, refunds_fail
from test_cli import run as run_cli

from reseller import metrics
from reseller.alerts import conditions
from reseller.api import app as api_app
from reseller.config.catalog import Candidate, ServiceConfig
from reseller.jobs.dispatch import Dispatcher
from reseller.orders import drip

LINK = "https://www.instagram.com/p/Drip123/"
NO_DRIPFEED = {
    "service": 20, "name": "Likes", "type": "Default", "category": "Instagram Likes",
    "rate": "1.00", "min": 10, "max": 10000, "refill": True, "cancel": True, "dripfeed": False,
}  # fmt: skip


@pytest.fixture
def fast_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api_app, "CATALOG_POLL_SECONDS", 0.02)


@pytest_asyncio.fixture(loop_scope="session")
async def stack(fast_catalog, stack):
    """The stack, selling service 20 (the panel's 20, no drip-feed) with drip-feed emulated;
    the panel's orders stay active until a test moves its clock."""
    stack.sim.state.add_service(NO_DRIPFEED)
    stack.sim.state.config.tick = 60.0
    emulated = ServiceConfig(id=20, upstreams=(Candidate("sim", "20"),), emulate_dripfeed=True)
    services = (*stack.live.current.services, emulated)
    stack.live.current = replace(stack.live.current, services=services)
    await stack.jobs.catalog()

    async def offered():
        listed = await stack.api.call(key=stack.key, action="services")
        return [s for s in listed if s["service"] == 20]

    [service] = await poll_until(offered, within=5, interval=0.02)
    assert (service["dripfeed"], service["rate"]) == (True, "1.50")  # 50 % markup
    return stack


async def add(stack, runs: int, quantity: int = 100, interval: int = 5) -> int:
    answer = await stack.api.call(
        key=stack.key,
        action="add",
        service=20,
        link=LINK,
        quantity=quantity,
        runs=runs,
        interval=interval,
    )
    return int(answer["order"])


async def status(stack, order_id: int) -> dict:
    return await stack.api.call(key=stack.key, action="status", order=order_id)


async def runs(stack, order_id: int) -> list:
    return await stack.pool.fetch(
        "SELECT * FROM order_runs WHERE order_id = $1 ORDER BY run", order_id
    )


async def due_now(stack, order_id: int, run: int) -> None:
    await stack.pool.execute(
        "UPDATE order_runs SET due_at = now() WHERE order_id = $1 AND run = $2", order_id, run
    )


async def finish(stack, order_id: int, run: int, status: str, remains: int | None = None):
    """The panel ends the run; the status job sees it."""
    upstream_id = (await runs(stack, order_id))[run - 1]["upstream_order_id"]
    stack.sim.state.force_status(int(upstream_id), status, remains)
    await stack.pool.execute("UPDATE order_runs SET last_polled_at = NULL")
    await stack.jobs.status()


def adds(stack) -> list[dict]:
    return [r.params for r in stack.sim.state.requests if r.action == "add"]


async def test_a_drip_feed_without_upstream_drip_feed_goes_as_one_order_per_interval(stack):
    order_id = await add(stack, runs=3)
    placed = await runs(stack, order_id)
    assert [r["quantity"] for r in placed] == [100, 100, 100]
    gaps = [(r["due_at"] - placed[0]["due_at"]).total_seconds() for r in placed]
    assert gaps == [0, 300, 600]  # every `interval` minutes from the add
    assert await status(stack, order_id) == {
        "charge": "0.45", "start_count": "0", "status": "Pending", "remains": "300",
        "currency": "USD",
    }  # fmt: skip

    await stack.dispatcher.scan_once()  # run 1 is due at once; run 2 not yet
    [sent] = adds(stack)
    assert (sent["service"], sent["link"], sent["quantity"]) == ("20", LINK, "100")
    assert set(sent) & {"runs", "interval"} == set()  # a plain order upstream
    view = await status(stack, order_id)
    assert (view["status"], view["remains"], view["charge"]) == ("In progress", "300", "0.45")

    await finish(stack, order_id, 1, "Completed")
    assert (await status(stack, order_id))["remains"] == "200"
    await due_now(stack, order_id, 2)
    await stack.dispatcher.scan_once()
    await finish(stack, order_id, 2, "Partial", remains=40)
    await due_now(stack, order_id, 3)
    await stack.dispatcher.scan_once()
    assert len(adds(stack)) == 3
    view = await status(stack, order_id)
    assert (view["status"], view["remains"]) == ("In progress", "140")  # 40 + run 3 whole

    await finish(stack, order_id, 3, "Completed")
    order = await stack.order(order_id)
    assert (order["status"], order["remains"], order["settled_at"] is not None) == (
        "Partial",
        40,
        True,
    )
    assert order["refunded"] == Decimal("0.06")  # 0.45 × 40 / 300
    view = await status(stack, order_id)
    assert (view["status"], view["remains"], view["charge"]) == ("Partial", "40", "0.39")
    refill = await stack.api.call(key=stack.key, action="refill", order=order_id)
    assert refill == {"error": "Refill is not available for this order"}  # no one upstream order
    await money_holds(stack.pool)


async def test_cancel_stops_the_runs_not_sent_and_refunds_them_at_once(stack):
    order_id = await add(stack, runs=4)
    await stack.dispatcher.scan_once()  # run 1 is on its way
    answer = await stack.api.call(key=stack.key, action="cancel", orders=str(order_id))
    assert answer == [{"order": order_id, "cancel": 1}]
    order = await stack.order(order_id)
    assert (order["refunded"], order["settled_at"]) == (Decimal("0.45"), None)  # 3 of 4 runs
    states = [(r["dispatch_state"], r["status"]) for r in await runs(stack, order_id)]
    assert states == [("placed", "Processing"), *[("refused", "Canceled")] * 3]
    await money_holds(stack.pool)
    again = await stack.api.call(key=stack.key, action="cancel", orders=str(order_id))
    assert again == [
        {"order": order_id, "cancel": {"error": "Cancel is not available for this order"}}
    ]

    for run in (2, 3, 4):
        await due_now(stack, order_id, run)
    await finish(stack, order_id, 1, "Completed")  # the run that was sent finishes
    await stack.dispatcher.scan_once()
    assert len(adds(stack)) == 1  # the stopped runs never go
    view = await status(stack, order_id)
    assert (view["status"], view["remains"], view["charge"]) == ("Partial", "300", "0.15")
    await money_holds(stack.pool)


async def test_cancel_before_any_run_is_sent_cancels_the_order_in_full(stack):
    order_id = await add(stack, runs=2)
    answer = await stack.api.call(key=stack.key, action="cancel", orders=str(order_id))
    assert answer == [{"order": order_id, "cancel": 1}]
    view = await status(stack, order_id)
    assert (view["status"], view["remains"], view["charge"]) == ("Canceled", "200", "0.00")
    await stack.dispatcher.scan_once()
    assert adds(stack) == []
    await money_holds(stack.pool)


async def test_a_run_claimed_when_the_process_died_is_uncertain_and_never_resent(stack):
    order_id = await add(stack, runs=2)
    # Killed between the claim's commit and the request: the claim is all that happened.
    assert await drip.claim(stack.pool, order_id, 1, 0, "sim", "20")
    await stack.pool.execute(
        "UPDATE order_runs SET updated_at = now() - interval '1 hour' WHERE order_id = $1",
        order_id,
    )
    await stack.dispatcher.scan_once()
    await due_now(stack, order_id, 2)
    await stack.dispatcher.scan_once()
    first, second = await runs(stack, order_id)
    assert (first["dispatch_state"], first["dispatch_error"]) == (
        "uncertain",
        "abandoned in flight",
    )
    assert second["dispatch_state"] == "queued"  # waits: run 1 may be running there
    assert adds(stack) == []
    order = await stack.order(order_id)
    assert (order["refunded"], order["settled_at"]) == (0, None)  # money held
    await money_holds(stack.pool)


async def test_an_uncertain_run_is_shown_to_the_operator_like_an_uncertain_order(
    stack, operator, capsys
):
    order_id = await add(stack, runs=2)
    assert await drip.claim(stack.pool, order_id, 1, 0, "sim", "20")
    await drip.uncertain(stack.pool, order_id, 1, "timeout after sending")
    code, out, _ = await run_cli(capsys, "orders", "list", "--uncertain", "--json")
    assert code == 0
    [row] = orjson.loads(out)
    assert (row["id"], row["kind"], row["dispatch"]) == (order_id, "run", "uncertain")
    assert row["note"] == f"drip-feed run 1 of order {order_id}: timeout after sending"
    assert b"reseller_uncertain_orders 1.0" in await metrics.render(stack.pool)
    found = await conditions.current(stack.pool, stack.live.current)
    [uncertain] = [c for c in found if c.kind == "orders_uncertain"]
    assert uncertain.items == frozenset({str(order_id)})


async def test_a_restart_neither_sends_a_run_twice_nor_skips_one(stack):
    order_id = await add(stack, runs=3)
    await stack.dispatcher.scan_once()
    # The process stops here; its runs stay in the table.
    await finish(stack, order_id, 1, "Completed")
    await due_now(stack, order_id, 2)  # due while no process ran
    await due_now(stack, order_id, 3)

    restarted = [Dispatcher(stack.pool, stack.live, stack.upstreams) for _ in range(2)]
    for _ in range(3):  # two processes scanning side by side
        await restarted[0].scan_once()
        await restarted[1].scan_once()
    assert [a["quantity"] for a in adds(stack)] == ["100", "100"]  # run 2, once; 3 waits
    await finish(stack, order_id, 2, "Completed")
    await restarted[1].scan_once()
    await restarted[0].scan_once()
    await finish(stack, order_id, 3, "Completed")
    assert len(adds(stack)) == 3
    upstream_ids = {r["upstream_order_id"] for r in await runs(stack, order_id)}
    assert len(upstream_ids) == 3
    view = await status(stack, order_id)
    assert (view["status"], view["remains"], view["charge"]) == ("Completed", "0", "0.45")
    await money_holds(stack.pool)


async def test_each_money_moving_run_transition_is_all_or_nothing(stack):
    # The cancel: interrupted, no run is stopped, nothing refunded, no cancel recorded.
    order_id = await add(stack, runs=2)
    async with refunds_fail(stack.pool):
        with pytest.raises(Exception, match="injected fault"):
            await drip.cancel(stack.pool, await customer_id(stack), order_id)
    assert [r["dispatch_state"] for r in await runs(stack, order_id)] == ["queued", "queued"]
    assert await stack.pool.fetchval("SELECT count(*) FROM cancel_requests") == 0
    await money_holds(stack.pool)

    # A run's end (the settlement when it is the last): interrupted, the run is not final.
    await drip.cancel(stack.pool, await customer_id(stack), order_id)  # stops run 2 of 2... all
    other = await add(stack, runs=2)
    await stack.dispatcher.scan_once()
    await stack.pool.execute(
        "UPDATE order_runs SET dispatch_state = 'refused', status = 'Canceled', remains = quantity,"
        " final = true WHERE order_id = $1 AND run = 2",
        other,
    )  # run 2 already over (refunded below with run 1's end)
    upstream_id = (await runs(stack, other))[0]["upstream_order_id"]
    stack.sim.state.force_status(int(upstream_id), "Partial", 30)
    async with refunds_fail(stack.pool):
        await stack.jobs.status()  # the write fails; the run stays open, polled again
    run = (await runs(stack, other))[0]
    assert (run["final"], run["status"]) == (False, "Processing")
    assert (await stack.order(other))["refunded"] == 0
    await stack.pool.execute("UPDATE order_runs SET last_polled_at = NULL")
    await stack.jobs.status()
    order = await stack.order(other)
    assert (order["status"], order["remains"], order["refunded"]) == (
        "Partial",
        130,
        Decimal("0.195"),
    )

    # A run no candidate takes: interrupted, it stays queued.
    third = await add(stack, runs=2)
    stack.sim.state.remove_service(20)
    async with refunds_fail(stack.pool):
        with pytest.raises(Exception, match="injected fault"):
            await drip.refused(stack.pool, third, 1, "gone")
    assert (await runs(stack, third))[0]["dispatch_state"] == "queued"
    await drip.refused(stack.pool, third, 1, "gone")
    assert (await stack.order(third))["refunded"] == Decimal("0.15")
    await money_holds(stack.pool)


async def test_a_run_no_candidate_takes_ends_undelivered_and_the_others_still_go(stack):
    order_id = await add(stack, runs=2)
    stack.sim.state.remove_service(20)  # the panel refuses it: no candidate left
    await stack.dispatcher.scan_once()
    first = (await runs(stack, order_id))[0]
    assert (first["dispatch_state"], first["status"], first["remains"]) == (
        "refused",
        "Canceled",
        100,
    )
    assert (await stack.order(order_id))["refunded"] == Decimal("0.15")  # its share, at once
    stack.sim.state.add_service(NO_DRIPFEED)  # back: run 2 goes when due
    await due_now(stack, order_id, 2)
    await stack.dispatcher.scan_once()
    await finish(stack, order_id, 2, "Completed")
    view = await status(stack, order_id)
    assert (view["status"], view["remains"], view["charge"]) == ("Partial", "100", "0.15")
    await money_holds(stack.pool)


async def customer_id(stack) -> int:
    return await stack.pool.fetchval("SELECT id FROM customers WHERE name = 'acme'")


async def test_the_operator_links_an_uncertain_run_the_provider_has_or_refunds_one_it_lacks(
    stack, operator, capsys
):
    stack.sim.state.config.faults.timeout = 1.0  # the panel takes run 1, its answer is lost
    order_id = await add(stack, runs=3)
    await stack.dispatcher.scan_once()
    stack.sim.state.config.faults.timeout = 0.0
    assert (await runs(stack, order_id))[0]["dispatch_state"] == "uncertain"
    [taken] = stack.sim.state.orders_for_link(LINK)

    async def resolve(*argv: str) -> tuple[int, str, str]:
        return await run_cli(capsys, "orders", "resolve-run", str(order_id), *argv)

    code, _, err = await resolve("1", "--upstream-order", "999999")
    assert code == 2
    assert "sim does not know upstream order 999999" in err
    code, out, _ = await resolve("1", "--upstream-order", str(taken.id))
    assert (code, out) == (0, f"order {order_id} run 1: linked to upstream order {taken.id}\n")
    assert (await runs(stack, order_id))[0]["upstream_order_id"] == str(taken.id)
    await finish(stack, order_id, 1, "Completed")  # polled like any placed run

    await due_now(stack, order_id, 2)  # claimed, then the process died before sending
    assert await drip.claim(stack.pool, order_id, 2, 0, "sim", "20")
    await drip.uncertain(stack.pool, order_id, 2, "abandoned in flight")
    async with refunds_fail(stack.pool):
        code, _, _ = await resolve("2", "--refund")
    assert code != 0  # cut: the run is still uncertain and nothing moved
    assert (await runs(stack, order_id))[1]["dispatch_state"] == "uncertain"
    assert (await stack.order(order_id))["refunded"] == 0
    code, out, _ = await resolve("2", "--refund", "--reason", "not on the panel")
    assert (code, out) == (0, f"order {order_id} run 2: not sent, 0.15 refunded\n")
    assert [r["dispatch_state"] for r in await runs(stack, order_id)] == [
        "placed",
        "refused",
        "queued",
    ]
    actions = [r["action"] for r in await stack.pool.fetch("SELECT action FROM audit_log")]
    assert actions == ["resolve-run-link", "resolve-run-refund"]
    await money_holds(stack.pool)


async def test_an_orders_page_tells_each_run_and_refunds_an_uncertain_one(stack, stack_console):
    order_id = await add(stack, runs=2)
    assert await drip.claim(stack.pool, order_id, 1, 0, "sim", "20")
    await drip.uncertain(stack.pool, order_id, 1, "timeout after sending")
    assert await stack_console.sign_in() == 303

    _, page, _ = await stack_console.get(f"/orders/{order_id}")

    assert "run 1 of 2: 100 due; now Pending, uncertain" in page
    assert "run 2 of 2: 100 due; now Pending, queued" in page
    assert f'action="/orders/{order_id}/runs/1/resolve"' in page
    answer = await stack_console.submit(
        f"/orders/{order_id}/runs/1/resolve",
        page=f"/orders/{order_id}",
        how="refund",
        reason="not at the panel",
    )
    assert "flash ok" in answer
    first = (await runs(stack, order_id))[0]
    assert (first["status"], first["remains"], first["final"]) == ("Canceled", 100, True)
    assert (await stack.order(order_id))["refunded"] == Decimal("0.15")  # half of 0.30
    actor = await stack.pool.fetchval("SELECT actor FROM audit_log WHERE subject LIKE 'order %'")
    assert actor == "console:ana"
    await money_holds(stack.pool)
