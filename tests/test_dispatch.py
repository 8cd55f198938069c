"""Dispatch over HTTP against the simulated provider: every outcome, never a lost or doubled
order, never a refund for an order the provider may be delivering."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from support import add_on_the_panel, free_port, money_holds, refunds_fail

from reseller import config, service_types
from reseller.audit import Actor
from reseller.config import ProviderConfig
from reseller.jobs import requests as forwarding
from reseller.orders import resolve as reconcile


async def test_order_reaches_the_provider_at_once_and_is_placed(stack) -> None:
    order_id = (await stack.add(link="https://ig.com/once"))["order"]
    await stack.settle()
    order = await stack.order(order_id)
    assert (order["dispatch_state"], order["status"], order["provider"]) == (
        "placed",
        "Processing",
        "sim",
    )
    assert int(order["upstream_order_id"]) in stack.sim.state.orders
    assert stack.sim.state.adds_for_link("https://ig.com/once") == 1
    sent = next(r for r in stack.sim.state.requests if r.action == "add")
    assert (sent.params["service"], sent.params["quantity"]) == ("1", "100")


async def test_definitive_refusal_cancels_and_refunds_in_full(stack) -> None:
    stack.sim.state.remove_service(1)
    order_id = (await stack.add(link="https://ig.com/refused"))["order"]
    await stack.settle()
    order = await stack.order(order_id)
    assert (order["status"], order["dispatch_state"], order["refunded"]) == (
        "Canceled",
        "refused",
        order["charge"],
    )
    assert order["dispatch_error"] == "Invalid service ID"
    status = await stack.api.call(key=stack.key, action="status", order=order_id)
    assert (status["status"], status["charge"]) == ("Canceled", "0.00")
    assert await stack.api.call(key=stack.key, action="balance") == {
        "balance": "100.00",
        "currency": "USD",
    }
    await money_holds(stack.pool)


async def test_refusal_tries_the_next_failover_candidate(stack) -> None:
    order_id = (await stack.add(service=2, link="https://ig.com/failover"))["order"]
    await stack.settle()
    order = await stack.order(order_id)
    assert (order["dispatch_state"], order["upstream_service"], order["dispatch_candidate"]) == (
        "placed",
        "1",
        1,
    )
    adds = [r.params["service"] for r in stack.sim.state.requests if r.action == "add"]
    assert adds == ["404", "1"]


async def test_inline_errors_answer_the_refusal_and_keep_no_charge(inline_stack) -> None:
    inline_stack.sim.state.remove_service(1)
    answer = await inline_stack.add(link="https://ig.com/inline")
    assert answer == {"error": "Invalid service ID"}
    assert await inline_stack.api.call(key=inline_stack.key, action="balance") == {
        "balance": "100.00",
        "currency": "USD",
    }
    await money_holds(inline_stack.pool)


async def test_unreachable_provider_is_retried_then_refunded(stack) -> None:
    closed = ProviderConfig(
        name="sim", url=f"http://127.0.0.1:{free_port()}/api/v2", key_env="SIM_TEST_KEY"
    )
    stack.upstreams.update([closed])
    order_id = (await stack.add(link="https://ig.com/unreachable"))["order"]
    await stack.settle()
    order = await stack.order(order_id)
    assert order["dispatch_attempts"] == 3
    assert (order["status"], order["refunded"]) == ("Canceled", order["charge"])
    assert order["dispatch_error"].startswith("cannot connect")


async def test_unreachable_provider_coming_back_gets_the_order_once(stack) -> None:
    live_provider = stack.live.current.providers[0]
    closed = ProviderConfig(
        name="sim", url=f"http://127.0.0.1:{free_port()}/api/v2", key_env="SIM_TEST_KEY"
    )
    stack.upstreams.update([closed])
    order_id = (await stack.add(link="https://ig.com/back"))["order"]
    await asyncio.sleep(0.05)
    assert (await stack.order(order_id))["dispatch_state"] == "queued"
    stack.upstreams.update([live_provider])
    await stack.settle()
    assert (await stack.order(order_id))["dispatch_state"] == "placed"
    assert stack.sim.state.adds_for_link("https://ig.com/back") == 1


async def test_unknown_outcomes_are_uncertain_and_never_resent(stack) -> None:
    for fault in ("timeout", "http_500", "reset", "malformed_json"):
        setattr(stack.sim.state.config.faults, fault, 1.0)
        link = f"https://ig.com/unknown-{fault}"
        order_id = (await stack.add(link=link))["order"]
        await stack.settle()
        for _ in range(3):  # the queue runs again: nothing is re-sent
            await stack.dispatcher.scan_once()
        order = await stack.order(order_id)
        assert order["dispatch_state"] == "uncertain", fault
        assert order["refunded"] == 0  # the money stays held
        assert stack.sim.state.adds_for_link(link) <= 1
        setattr(stack.sim.state.config.faults, fault, 0.0)
    await money_holds(stack.pool)


async def test_operator_resolves_uncertain_orders_by_link_or_refund(stack) -> None:
    stack.sim.state.config.faults.timeout = 1.0
    first = (await stack.add(link="https://ig.com/r1"))["order"]
    second = (await stack.add(link="https://ig.com/r2"))["order"]
    await stack.settle()
    stack.sim.state.config.faults.timeout = 0.0  # the link is checked with the provider
    upstream = stack.sim.state.orders_for_link("https://ig.com/r1")[0]
    await reconcile.link(stack.pool, stack.upstreams, first, str(upstream.id), by=Actor("test"))
    moved = await reconcile.refund(stack.pool, second, by=Actor("test"))
    one, two = await stack.order(first), await stack.order(second)
    assert (one["dispatch_state"], one["upstream_order_id"]) == ("placed", str(upstream.id))
    assert (two["status"], two["refunded"], moved) == ("Canceled", two["charge"], two["charge"])
    audit = [r["action"] for r in await stack.pool.fetch("SELECT action FROM audit_log")]
    assert audit == ["resolve-link", "resolve-refund"]
    await money_holds(stack.pool)


async def overlapping(stack) -> None:
    """Service 1 as `allow_overlap: true` makes it: its orders never wait for each other here,
    so what the dispatcher meets is the panel's own duplicate-link refusal (as it would for an
    order placed before link keys were kept, or a link written two ways no key merges)."""
    await stack.pool.execute("UPDATE services SET allow_overlap = true WHERE id = 1")


async def dispatched_again(stack) -> None:
    """One more pass once a link wait (`link_wait_seconds`) is over."""
    await asyncio.sleep(float(stack.live.current.dispatch.link_wait_seconds) + 0.05)
    await stack.dispatcher.scan_once()
    await stack.dispatcher.idle()


async def test_duplicate_link_refusal_proves_an_uncertain_order_was_placed(stack) -> None:
    await overlapping(stack)
    stack.sim.state.config.refuse_duplicate_links = True
    stack.sim.state.config.tick = 60.0  # the first order stays active upstream
    stack.sim.state.config.faults.timeout = 1.0
    first = (await stack.add(link="https://ig.com/dup"))["order"]
    await stack.settle()
    assert (await stack.order(first))["dispatch_state"] == "uncertain"
    stack.sim.state.config.faults.timeout = 0.0
    second = (await stack.add(link="https://ig.com/dup"))["order"]
    await stack.settle()
    placed_upstream = stack.sim.state.orders_for_link("https://ig.com/dup")
    one, two = await stack.order(first), await stack.order(second)
    assert (one["dispatch_state"], one["upstream_order_id"]) == (
        "placed",
        str(placed_upstream[0].id),
    )
    # The refusal is a wait, not a cancel: for the order it proved, now known to be ours.
    assert (two["status"], two["dispatch_state"], two["waiting_for"]) == (
        "Pending",
        "queued",
        first,
    )
    assert two["refunded"] == 0
    assert len(placed_upstream) == 1
    stack.sim.state.skip(600)  # the first completes upstream: the second goes at once
    await stack.jobs.status()
    await stack.settle()
    assert (await stack.order(second))["dispatch_state"] == "placed"
    assert len(stack.sim.state.orders_for_link("https://ig.com/dup")) == 2
    await money_holds(stack.pool)


async def test_duplicate_link_refusal_naming_someone_elses_order_never_links_an_unsent_order(
    stack,
) -> None:
    link = "https://ig.com/dup-outside"
    await overlapping(stack)
    stack.sim.state.config.refuse_duplicate_links = True
    stack.sim.state.config.tick = 60.0
    stack.sim.state.config.faults.html = 1.0  # a Cloudflare page: unknown to us, never processed
    first = (await stack.add(link=link))["order"]
    await stack.settle()
    assert (await stack.order(first))["dispatch_state"] == "uncertain"
    assert stack.sim.state.orders_for_link(link) == []
    stack.sim.state.config.faults.html = 0.0
    outside = await add_on_the_panel(stack, link, quantity=500)
    second = (await stack.add(link=link))["order"]
    await stack.settle()
    one, two = await stack.order(first), await stack.order(second)
    assert two["dispatch_error"].endswith(f"(active order: {outside})")
    assert (two["status"], two["waiting_for"], two["refunded"]) == ("Pending", None, 0)
    assert (one["dispatch_state"], one["upstream_order_id"]) == ("uncertain", None)
    stack.sim.state.skip(600)  # the outside order completes upstream
    await stack.jobs.status()
    one = await stack.order(first)
    assert (one["status"], one["settled_at"], one["refunded"]) == ("Pending", None, 0)
    await dispatched_again(stack)  # the wait is over and the link is free
    assert (await stack.order(second))["dispatch_state"] == "placed"
    await money_holds(stack.pool)


async def test_duplicate_link_refusal_naming_an_order_linked_to_another_never_links_it_twice(
    stack,
) -> None:
    link = "https://ig.com/dup-linked"
    await overlapping(stack)
    stack.sim.state.config.refuse_duplicate_links = True
    stack.sim.state.config.tick = 60.0
    stack.sim.state.config.faults.html = 1.0
    first = (await stack.add(link=link))["order"]
    await stack.settle()
    stack.sim.state.config.faults.html = 0.0
    # Same service, link and size as the first: only "already linked" tells them apart.
    placed = (await stack.add(link=link))["order"]
    await stack.settle()
    third = (await stack.add(link=link))["order"]  # refused, naming the placed one
    await stack.settle()
    one, two = await stack.order(first), await stack.order(placed)
    assert two["dispatch_state"] == "placed"
    assert (one["dispatch_state"], one["upstream_order_id"]) == ("uncertain", None)
    three = await stack.order(third)
    assert (three["status"], three["dispatch_state"], three["waiting_for"]) == (
        "Pending",
        "queued",
        None,
    )
    await money_holds(stack.pool)


async def test_abandoned_in_flight_add_becomes_uncertain_not_resent(stack) -> None:
    stack.sim.state.config.latency = 5.0  # the call outlives the stop's grace
    order_id = (await stack.add(link="https://ig.com/abandoned"))["order"]
    await asyncio.sleep(0.1)
    await stack.dispatcher.stop(0.1)
    order = await stack.order(order_id)
    assert order["dispatch_state"] == "uncertain"
    assert order["dispatch_error"] == "abandoned in flight at shutdown"


async def test_calls_left_in_flight_by_a_dead_process_become_uncertain(stack) -> None:
    order_id = (await stack.add(link="https://ig.com/dead"))["order"]
    await stack.settle()
    await stack.pool.execute(
        "UPDATE orders SET dispatch_state = 'sending', updated_at = now() - interval '1 hour'"
        " WHERE id = $1",
        order_id,
    )
    await stack.dispatcher.scan_once()
    assert (await stack.order(order_id))["dispatch_state"] == "uncertain"


async def test_cancel_of_a_queued_order_refunds_without_sending(stack) -> None:
    closed = ProviderConfig(
        name="sim", url=f"http://127.0.0.1:{free_port()}/api/v2", key_env="SIM_TEST_KEY"
    )
    stack.upstreams.update([closed])
    order_id = (await stack.add(link="https://ig.com/cancel-queued"))["order"]
    assert await stack.api.call(key=stack.key, action="cancel", order=order_id) == [
        {"order": order_id, "cancel": 1}
    ]
    await stack.settle()
    order = await stack.order(order_id)
    assert (order["status"], order["refunded"]) == ("Canceled", order["charge"])
    assert stack.sim.state.adds_for_link("https://ig.com/cancel-queued") == 0
    await money_holds(stack.pool)


async def test_interrupted_cancel_of_a_queued_order_leaves_it_queued_then_refunds_in_full(
    stack,
) -> None:
    # The provider is paused for funds: the order waits in our queue.
    await stack.pool.execute(
        "INSERT INTO provider_balances (provider, balance, currency, low, paused)"
        " VALUES ('sim', 0, 'USD', true, true)"
    )
    await stack.dispatcher.scan_once()  # the dispatcher learns of the pause
    order_id = (await stack.add(link="https://ig.com/cancel-cut"))["order"]
    await stack.api.call(key=stack.key, action="cancel", order=order_id)
    async with refunds_fail(stack.pool):
        await stack.dispatcher.scan_once()
        await stack.dispatcher.idle()
    order = await stack.order(order_id)
    # Nothing of the cut transaction happened: not Canceled without its refund.
    assert (order["status"], order["dispatch_state"], order["refunded"]) == (
        "Pending",
        "queued",
        0,
    )
    # The request left in flight is swept back to the queue and done, once, in full.
    await stack.pool.execute("UPDATE cancel_requests SET updated_at = now() - interval '1 hour'")
    for _ in range(3):
        await stack.dispatcher.scan_once()
        await stack.dispatcher.idle()
    order = await stack.order(order_id)
    assert (order["status"], order["refunded"]) == ("Canceled", order["charge"])
    assert order["settled_at"] is not None
    assert await stack.pool.fetchval("SELECT upstream_answer FROM cancel_requests") == (
        "canceled locally"
    )
    assert stack.sim.state.adds_for_link("https://ig.com/cancel-cut") == 0
    await money_holds(stack.pool)


async def test_cancel_and_refill_of_placed_orders_are_forwarded(stack) -> None:
    stack.sim.state.config.tick = 60.0  # still running upstream when the cancel comes
    to_cancel = (await stack.add(link="https://ig.com/c"))["order"]
    to_refill = (await stack.add(link="https://ig.com/f"))["order"]
    await stack.settle()
    await stack.pool.execute("UPDATE orders SET status = 'Completed' WHERE id = $1", to_refill)
    stack.sim.state.force_status(
        int((await stack.order(to_refill))["upstream_order_id"]), "Completed"
    )
    await stack.api.call(key=stack.key, action="cancel", orders=to_cancel)
    refill = (await stack.api.call(key=stack.key, action="refill", order=to_refill))["refill"]
    for _ in range(20):
        await stack.dispatcher.scan_once()
        await asyncio.sleep(0.02)
    answer = await stack.pool.fetchval("SELECT upstream_answer FROM cancel_requests")
    upstream_refill = await stack.pool.fetchval(
        "SELECT upstream_refill_id FROM refills WHERE id = $1", refill
    )
    assert answer == "accepted"
    assert int(upstream_refill) in stack.sim.state.refills
    # The cancel refunds nothing by itself: the refund follows the upstream status (sync).
    assert (await stack.order(to_cancel))["refunded"] == 0


async def test_1000_orders_through_20_percent_faults_are_never_doubled_or_lost(stack) -> None:
    faults = stack.sim.state.config.faults
    for fault in (
        "timeout",
        "reset",
        "http_500",
        "html",
        "empty",
        "malformed_json",
        "string_numbers",
        "order_id_key",
    ):
        setattr(faults, fault, 0.025)  # 8 × 2.5 % = 20 % of calls misbehave
    await stack.pool.execute("UPDATE customers SET balance = 10000, rate_limit_per_minute = 100000")
    await stack.pool.execute(
        "INSERT INTO ledger (customer_id, amount, kind, reason)"
        " VALUES (1, 9900, 'topup', 'load test')"
    )
    gate = asyncio.Semaphore(50)

    async def place(n: int) -> int:
        async with gate:
            return (await stack.add(link=f"https://ig.com/load/{n}"))["order"]

    ids = await asyncio.gather(*(place(n) for n in range(1000)))
    await stack.settle(within=60)
    tally = dict(
        await stack.pool.fetch(
            "SELECT dispatch_state, count(*) FROM orders GROUP BY dispatch_state"
        )
    )
    print(f"\n1000 orders, 20 % faults: {tally}")
    assert sum(tally.values()) == len(set(ids)) == 1000
    assert set(tally) <= {"placed", "refused", "uncertain"}
    for n in range(1000):
        assert stack.sim.state.adds_for_link(f"https://ig.com/load/{n}") <= 1
    placed = await stack.pool.fetch(
        "SELECT upstream_order_id, link FROM orders WHERE dispatch_state = 'placed'"
    )
    for row in placed:
        assert stack.sim.state.orders[int(row["upstream_order_id"])].link == row["link"]
    refused_unrefunded = await stack.pool.fetchval(
        "SELECT count(*) FROM orders WHERE dispatch_state = 'refused' AND refunded <> charge"
    )
    assert refused_unrefunded == 0
    await money_holds(stack.pool)


def test_dispatch_settings_are_validated() -> None:
    import pytest

    from reseller import errors

    with pytest.raises(errors.ConfigError, match=r"dispatch\.max_attempts"):
        config.parse("dispatch: {max_attempts: 0}")
    assert config.parse("dispatch: {retry_seconds: 0.5}").dispatch.retry_seconds == Decimal("0.5")


def test_upstream_add_carries_a_quantity_only_where_the_provider_does_not_derive_it() -> None:
    # Lines, packages and subscriptions size themselves on the panel; the rest need a quantity.
    derived = {
        "Package",
        "Custom Comments",
        "Custom Comments Package",
        "Mentions Custom List",
        "Comment Replies",
        "Subscriptions",
    }
    for name in service_types.SERVICE_TYPES:
        sent = service_types.upstream_fields(
            name, link="https://a.com", quantity=3, runs=2, interval=5, fields={"x": "y"}
        )
        expected = {"link": "https://a.com", "runs": 2, "interval": 5, "x": "y"}
        assert sent == (expected if name in derived else {**expected, "quantity": 3}), name


def test_orders_refills_and_cancels_back_off_doubling_from_retry_seconds() -> None:
    assert [forwarding.backoff(2.0, attempt) for attempt in (1, 2, 3, 4)] == [2.0, 4.0, 8.0, 16.0]
    assert forwarding.backoff(2.0, 12, longest=3600.0) == 3600.0
    # A cancel waiting on an uncertain order is retried for ever, and still gets a number.
    assert forwarding.backoff(0.01, 10**6, longest=3600.0) == 3600.0
