"""The console's orders pages over the real API, dispatcher, PostgreSQL and simulated panel:
orders are found by filters and paged by id; an order's page tells its story; an uncertain
order is linked or refunded through the same functions as `reseller orders resolve`, audited
with the operator's name, and a refused link or a viewer changes nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from console_client import VIEWER
from support import money_holds
from test_refills import completed_order, refill_row, uncertain_refill
from test_resolve import uncertain_order
from test_strict_answers import answer_with, placed, poll


def listed(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'<th scope="row"><a href="/orders/(\d+)">', page)]


async def test_orders_are_found_by_each_filter_and_paged_newest_first(stack, stack_console):
    await stack_console.sign_in()
    alpha = (await stack.add(link="https://ig.com/alpha"))["order"]
    beta = (await stack.add(link="https://ig.com/beta"))["order"]
    await stack.settle()
    # 50 more (settled, never dispatched again) make a second page.
    await stack.pool.execute(
        "INSERT INTO orders (customer_id, service_id, link, link_key, quantity, charge,"
        " currency, currency_rate, status, dispatch_state)"
        " SELECT customer_id, service_id, 'https://ig.com/copy', 'ig.com/copy', quantity, 0,"
        " currency, currency_rate, 'Canceled', 'refused' FROM orders, generate_series(1, 50)"
        " WHERE id = $1",
        alpha,
    )
    _, first, _ = await stack_console.get("/orders")
    assert len(listed(first)) == 50
    assert beta not in listed(first)
    next_page = re.search(r'<a href="(/orders\?before=(\d+))" rel="next">Next page', first)
    assert int(next_page.group(2)) == min(listed(first))
    _, second, _ = await stack_console.get(next_page.group(1))
    assert listed(second) == [beta, alpha]
    assert "Next page" not in second
    today = datetime.now(UTC).date()
    for query, found in [
        ("link=http://www.ig.com/beta/", [beta]),
        ("customer=acme&dispatch=placed&service=1&provider=sim", [beta, alpha]),
        (f"status=Canceled&since={today}&until={today}&link=ig.com/copy", listed(first)),
        (f"since={today + timedelta(days=1)}", []),
        ("customer=nobody", []),
        ("queue=uncertain", []),
        ("service=2", []),
    ]:
        status, page, _ = await stack_console.get(f"/orders?{query}")
        assert (status, listed(page)) == (200, found), query
    _, paged, _ = await stack_console.get(f"/orders?provider=sim&before={beta}")
    assert listed(paged) == [alpha]


async def test_bad_filters_and_unknown_orders_are_named_not_failed(stack, stack_console):
    await stack_console.sign_in()
    await stack.add()
    for query, message in [
        ("service=abc", "Service must be a whole number from 1, not &#39;abc&#39;."),
        ("since=2026-13-01", "Since must be a date (YYYY-MM-DD)"),
        ("status=Done", "Unknown status &#39;Done&#39;."),
        ("before=99999999999999999999", "Before must be a whole number from 1"),
        (f"service={'9' * 5000}", "Service must be a whole number from 1"),
        ("queue=uncertain&dispatch=placed", "holds orders whose dispatch is uncertain"),
        ("since=2026-02-02&until=2026-02-01", "Since is after until"),
        ("customer=a%00b", "A filter holds a NUL character"),
    ]:
        status, page, _ = await stack_console.get(f"/orders?{query}")
        assert status == 200, query
        assert message in page, query
        assert listed(page) == [], query
    for missing in ("999999", "abc", "-1"):
        status, page, _ = await stack_console.get(f"/orders/{missing}")
        assert (status, f"There is no order {missing}." in page) == (404, True)


async def test_an_uncertain_order_is_linked_from_its_page_audited_and_seen_completing(
    stack, stack_console
):
    link = "https://ig.com/console-linked"
    order_id = await uncertain_order(stack, link)
    upstream = stack.sim.state.orders_for_link(link)[0].id
    await stack_console.sign_in()
    _, queue, _ = await stack_console.get("/orders/uncertain")
    assert listed(queue) == [order_id]
    page = f"/orders/{order_id}"
    _, shown, _ = await stack_console.get(page)
    assert f'action="/orders/{order_id}/resolve"' in shown
    assert '<label>Upstream order <input name="upstream_order"></label>' in shown
    shown = await stack_console.submit(
        f"{page}/resolve", page=page, upstream_order=str(upstream), reason="seen on sim", how="link"
    )
    assert f"Order {order_id}: linked to upstream order {upstream}." in shown
    entry = await stack.pool.fetchrow(
        "SELECT actor, action, reason FROM audit_log WHERE subject = $1", f"order {order_id}"
    )
    assert dict(entry) == {
        "actor": "console:ana",
        "action": "resolve-link",
        "reason": "seen on sim",
    }
    assert "resolve-link by console:ana: seen on sim" in shown  # the story tells it
    stack.sim.state.force_status(upstream, "Completed", remains=0)
    await stack.jobs.status()
    _, shown, _ = await stack_console.get(page)
    assert '<span class="status">Completed</span>' in shown
    await money_holds(stack.pool)


async def test_an_uncertain_order_refunded_from_its_page_tells_the_whole_story(
    stack, stack_console
):
    order_id = await uncertain_order(stack, "https://ig.com/console-refund", fault="html")
    await stack_console.sign_in()
    page = f"/orders/{order_id}"
    shown = await stack_console.submit(f"{page}/resolve", page=page, reason="", how="refund")
    assert f"Order {order_id}: canceled, 0.135 refunded." in shown
    assert '<span class="status">Canceled</span>' in shown
    story = shown[shown.index("<h2>Story</h2>") :]
    for event in ("created", "charge", "refund", "settled", "audit"):
        assert f"<td>{event}</td>" in story, event
    assert "resolve-refund by console:ana" in story
    assert f'action="/orders/{order_id}/resolve"' not in shown  # no longer uncertain
    await money_holds(stack.pool)


async def test_a_refused_link_changes_nothing_and_a_viewer_gets_no_form(stack, stack_console):
    order_id = await uncertain_order(stack, "https://ig.com/console-refused")
    page = f"/orders/{order_id}"
    await stack_console.sign_in()
    for how, form, message in [
        ("link", {"upstream_order": "999999"}, "sim does not know upstream order 999999"),
        ("link", {"upstream_order": " "}, "Give the upstream order ID to link"),
        ("sideways", {"upstream_order": "1"}, "Give the upstream order ID to link"),
    ]:
        shown = await stack_console.submit(f"{page}/resolve", page=page, how=how, **form)
        assert message in shown
        assert 'class="flash error"' in shown
    order = await stack.order(order_id)
    assert (order["dispatch_state"], order["upstream_order_id"]) == ("uncertain", None)
    resolved = "SELECT count(*) FROM audit_log WHERE subject LIKE 'order %'"
    assert await stack.pool.fetchval(resolved) == 0
    await stack_console.sign_in(VIEWER)
    _, shown, _ = await stack_console.get(page)
    assert "<h1>Order" in shown
    assert '<form method="post" action="/orders/' not in shown
    status, _, _ = await stack_console.post(
        f"{page}/resolve", csrf=await stack_console.csrf(page), how="refund"
    )
    assert status == 403
    assert (await stack.order(order_id))["dispatch_state"] == "uncertain"


async def test_a_frozen_order_is_settled_from_its_page_on_what_the_provider_shows(
    stack, stack_console
):
    order_id, upstream_id = await placed(stack)
    answer_with(stack, upstream_id, "Error")
    await poll(stack)
    await stack_console.sign_in()
    _, flagged, _ = await stack_console.get("/orders?queue=flagged")
    assert listed(flagged) == [order_id]
    page = f"/orders/{order_id}"
    _, shown, _ = await stack_console.get(page)
    assert f'<form method="post" action="/orders/{order_id}/settle">' in shown
    for form, message in [
        ({"status": "Partial"}, "Remains go with Partial, and only with it"),
        ({"status": "Completed", "remains": "5"}, "Remains go with Partial, and only with it"),
        ({"status": "Partial", "remains": "x"}, "Remains must be a whole number from 1"),
        ({"status": "Pending"}, "Choose a final status"),
        ({"status": "Partial", "remains": "150"}, "not settled: Partial with remains 150 of 100"),
    ]:
        shown = await stack_console.submit(f"{page}/settle", page=page, **form)
        assert message in shown, form
    assert (await stack.order(order_id))["settled_at"] is None
    shown = await stack_console.submit(
        f"{page}/settle", page=page, status="Partial", remains="40", reason="60 delivered"
    )
    assert f"Order {order_id}: Partial, 0.054 refunded." in shown
    assert '<span class="status">Partial</span>' in shown
    entry = await stack.pool.fetchrow(
        "SELECT actor, action, reason FROM audit_log WHERE subject = $1", f"order {order_id}"
    )
    assert tuple(entry) == ("console:ana", "resolve-frozen", "60 delivered")
    await money_holds(stack.pool)


async def test_an_uncertain_refill_is_linked_from_the_queue_once_the_provider_knows_it(
    stack, stack_console
):
    order_id = await completed_order(stack)
    refill_id = await uncertain_refill(stack, order_id)
    [upstream] = [r.id for r in stack.sim.state.refills.values()]
    await stack_console.sign_in()
    _, queue, _ = await stack_console.get("/orders/uncertain")
    assert f'<form method="post" action="/refills/{refill_id}/resolve"' in queue
    _, shown, _ = await stack_console.get(f"/orders/{order_id}")
    assert f'<form method="post" action="/refills/{refill_id}/resolve"' in shown
    path, page = f"/refills/{refill_id}/resolve", "/orders/uncertain"
    form = {"order": str(order_id), "how": "link"}
    shown = await stack_console.submit(path, page=page, upstream_refill="987654", **form)
    assert "sim does not know upstream refill 987654" in shown
    assert (await refill_row(stack, refill_id))["dispatch_state"] == "uncertain"
    shown = await stack_console.submit(path, page=page, upstream_refill=str(upstream), **form)
    assert f"Refill {refill_id}: linked to upstream refill {upstream}." in shown
    assert f"<h1>Order {order_id}" in shown  # back on the refill's order
    assert (await refill_row(stack, refill_id))["dispatch_state"] == "placed"
    entry = await stack.pool.fetchrow(
        "SELECT actor, action FROM audit_log WHERE subject = $1", f"refill {refill_id}"
    )
    assert tuple(entry) == ("console:ana", "resolve-refill-link")
