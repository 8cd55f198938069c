"""One active order per link: a new order whose link (however it is written) already has an
active order on the same upstream service waits in our queue — Pending, its charge held,
cancellable — and goes when that one is final; a provider's "active order" refusal is a wait
too. Two orders of one kind running on one target underrun at the provider with no way to
recalculate. Real PostgreSQL, the real app over HTTP with its dispatcher, the simulated panel."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from decimal import Decimal

import orjson
from support import add_on_the_panel, money_holds
from test_cli import run

from reseller import config, customers, metrics
from reseller.jobs import dispatch

POST = "https://www.instagram.com/p/CxYz123/"
SAME_POST = "instagram.com/p/CxYz123?utm_source=ig_web_copy_link"


def long_orders(stack) -> None:
    """The panel's orders stay active until the test moves its clock."""
    stack.sim.state.config.tick = 60.0


async def placed(stack, link: str) -> int:
    """An order placed with the panel before the next is added: the one that holds the link
    (two added at once could go either way)."""
    order_id = (await stack.add(link=link))["order"]
    await stack.settle()
    assert (await stack.order(order_id))["dispatch_state"] == "placed"
    return order_id


async def finish_upstream(stack) -> None:
    """The panel finishes what it has; the status job settles it; dispatch runs again."""
    stack.sim.state.skip(600)
    await stack.pool.execute("UPDATE orders SET last_polled_at = NULL")
    await stack.jobs.status()
    await stack.settle()


async def test_a_second_order_for_a_busy_link_waits_then_goes_when_the_first_is_final(
    stack,
) -> None:
    long_orders(stack)
    first = await placed(stack, POST)
    second = (await stack.add(link=SAME_POST))["order"]  # the same post, written otherwise
    await stack.settle()
    one, two = await stack.order(first), await stack.order(second)
    assert one["dispatch_state"] == "placed"
    assert (two["dispatch_state"], two["waiting_for"], two["refunded"]) == ("queued", first, 0)
    assert two["dispatch_error"] == f"waiting: order {first} is active on this link at sim"
    view = await stack.api.call(key=stack.key, action="status", order=second)
    assert (view["status"], view["charge"]) == ("Pending", "0.135")  # its charge held
    assert len(stack.sim.state.orders) == 1

    await finish_upstream(stack)  # the first is final: the second goes at once
    assert (await stack.order(second))["dispatch_state"] == "placed"
    assert len(stack.sim.state.orders) == 2
    assert stack.sim.state.overlapped() == []  # never two at once on the post
    await money_holds(stack.pool)


async def test_a_waiting_order_can_be_canceled_and_is_refunded_in_full(stack) -> None:
    long_orders(stack)
    await placed(stack, POST)
    second = (await stack.add(link=POST))["order"]
    await stack.settle()
    answer = await stack.api.call(key=stack.key, action="cancel", order=second)
    assert answer == [{"order": second, "cancel": 1}]
    await stack.dispatcher.scan_once()
    await stack.dispatcher.idle()
    two = await stack.order(second)
    assert (two["status"], two["refunded"]) == ("Canceled", two["charge"])
    assert stack.sim.state.adds_for_link(POST) == 1
    await money_holds(stack.pool)


async def test_orders_of_other_customers_and_services_wait_on_the_same_upstream_service(
    stack,
) -> None:
    """Services 1 and 2 both end at the panel's service 1 (2 through a failover candidate)."""
    long_orders(stack)
    _, other = await customers.create(stack.pool, "other", balance=Decimal(100))
    first = await placed(stack, POST)
    second = (
        await stack.api.call(key=other, action="add", service=2, link=SAME_POST, quantity=100)
    )["order"]
    await stack.settle()
    two = await stack.order(second)
    assert (two["dispatch_state"], two["waiting_for"]) == ("queued", first)
    # A different upstream service on the same link does not wait.
    third = (await stack.add(service=3, link=POST, quantity=100))["order"]
    await stack.settle()
    assert (await stack.order(third))["dispatch_state"] == "placed"
    await money_holds(stack.pool)


async def test_concurrent_adds_for_one_link_send_one_order_at_a_time(stack) -> None:
    long_orders(stack)
    ids = [
        r["order"]
        for r in await asyncio.gather(*(stack.add(link=POST, quantity=100) for _ in range(8)))
    ]
    await stack.settle()
    states = [(await stack.order(i))["dispatch_state"] for i in ids]
    assert sorted(states) == ["placed"] + ["queued"] * 7
    for sent in range(2, 4):  # each time the active one is final, exactly one more goes
        await finish_upstream(stack)
        assert len(stack.sim.state.orders) == sent
    assert stack.sim.state.overlapped() == []
    await money_holds(stack.pool)


async def test_allow_overlap_lets_orders_on_one_link_run_side_by_side(stack) -> None:
    long_orders(stack)
    await stack.pool.execute("UPDATE services SET allow_overlap = true WHERE id = 1")
    ids = [(await stack.add(link=POST))["order"] for _ in range(2)]
    await stack.settle()
    assert [(await stack.order(i))["dispatch_state"] for i in ids] == ["placed", "placed"]
    assert len(stack.sim.state.overlapped()) == 1  # what the wait avoids
    await money_holds(stack.pool)


async def test_allow_overlap_is_read_from_the_config_for_services_and_imports() -> None:
    text = (
        "providers: [{name: p, url: 'http://p/api', key_env: P}]\n"
        "services: [{id: 1, provider: p, upstream_service: 1, allow_overlap: true},"
        " {id: 2, provider: p, upstream_service: 2}]\n"
        "imports: [{provider: p, category: 'Views*', first_id: 100, allow_overlap: true}]\n"
    )
    parsed = config.parse(text)
    assert [s.allow_overlap for s in parsed.services] == [True, False]
    assert parsed.imports[0].allow_overlap


async def test_a_provider_refusing_a_busy_link_makes_the_order_wait_not_fail_over(stack) -> None:
    """Someone else's order holds the link on the panel: we cannot know when it ends, so the
    order looks again every `link_wait_seconds`, on the same candidate, and is never
    refunded for it."""
    long_orders(stack)
    stack.sim.state.config.refuse_duplicate_links = True
    outside = await add_on_the_panel(stack, POST, quantity=500)
    order_id = (await stack.add(service=2, link=POST))["order"]  # candidates 404, then sim 1
    await stack.settle()
    order = await stack.order(order_id)
    assert (order["dispatch_state"], order["status"], order["refunded"]) == ("queued", "Pending", 0)
    assert (order["dispatch_candidate"], order["waiting_for"]) == (1, None)
    assert order["dispatch_error"].endswith(f"(active order: {outside})")
    stack.sim.state.skip(600)  # the outside order ends
    await asyncio.sleep(float(stack.live.current.dispatch.link_wait_seconds) + 0.05)
    await stack.settle()
    assert (await stack.order(order_id))["dispatch_state"] == "placed"
    await money_holds(stack.pool)


async def test_a_link_refused_as_busy_past_the_longest_wait_counts_as_a_refusal(stack) -> None:
    long_orders(stack)
    stack.sim.state.config.refuse_duplicate_links = True
    await add_on_the_panel(stack, POST, quantity=500)
    stack.live.current = replace(
        stack.live.current, dispatch=replace(stack.live.current.dispatch, link_wait_max_minutes=1)
    )
    order_id = (await stack.add(link=POST))["order"]
    await stack.settle()
    assert (await stack.order(order_id))["dispatch_state"] == "queued"  # waiting
    await stack.pool.execute(
        "UPDATE orders SET created_at = now() - interval '2 minutes' WHERE id = $1", order_id
    )
    await asyncio.sleep(float(stack.live.current.dispatch.link_wait_seconds) + 0.05)
    await stack.settle()  # refused once more, now past the longest wait: no candidate left
    order = await stack.order(order_id)
    assert (order["status"], order["refunded"]) == ("Canceled", order["charge"])
    await money_holds(stack.pool)


def test_busy_link_refusals_are_recognised_in_the_configured_wordings() -> None:
    defaults = config.parse("").dispatch
    assert dispatch.link_busy("Link duplicated, please wait", defaults)
    assert dispatch.link_busy("Order for this link is ALREADY IN PROGRESS", defaults)
    assert not dispatch.link_busy("Not enough funds on balance", defaults)
    own = config.parse("dispatch: {active_link_refusals: ['ссылка уже в работе']}").dispatch
    assert dispatch.link_busy("Ошибка: ссылка уже в работе", own)
    assert not dispatch.link_busy("active order", own)  # the list replaces the defaults


async def test_orders_list_waiting_and_show_say_what_an_order_waits_for(
    stack, operator, capsys
) -> None:
    long_orders(stack)
    first = await placed(stack, POST)
    second = (await stack.add(link=POST))["order"]
    await stack.settle()
    code, out, _ = await run(capsys, "orders", "list", "--waiting", "--json")
    assert code == 0
    [row] = orjson.loads(out)
    assert (row["id"], row["note"]) == (
        second,
        f"waiting: order {first} is active on this link at sim",
    )
    _, out, _ = await run(capsys, "orders", "show", str(second), "--json")
    shown = orjson.loads(out)
    assert (shown["waiting_for"], shown["dispatch_state"]) == (first, "queued")
    assert shown["waiting_since"] is not None
    assert b"reseller_waiting_orders 1.0" in await metrics.render(stack.pool)
