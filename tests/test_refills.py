"""Refills forwarded under the rule of `add`: a refill whose outcome is unknown is never re-sent
automatically; it is left uncertain (still open, so the customer cannot stack another), listed
for the operator and resolved by them. Only a request that provably never left is retried."""

from __future__ import annotations

import asyncio

import pytest
from support import free_port, money_holds
from test_cli import run

from reseller.config import ProviderConfig


async def completed_order(stack, link: str = "https://ig.com/refill") -> int:
    order_id = (await stack.add(link=link))["order"]
    await stack.settle()
    stack.sim.state.force_status(
        int((await stack.order(order_id))["upstream_order_id"]), "Completed"
    )
    await stack.jobs.status()
    assert (await stack.order(order_id))["status"] == "Completed"
    return order_id


async def forward(stack, rounds: int = 6) -> None:
    """Scan the queues and wait for what they started, several times (retries come due)."""
    for _ in range(rounds):
        await stack.dispatcher.scan_once()
        await stack.dispatcher.idle()
        await asyncio.sleep(0.05)


def refill_calls(stack) -> int:
    return sum(1 for r in stack.sim.state.requests if r.action == "refill")


async def refill_row(stack, refill_id: int):
    return await stack.pool.fetchrow("SELECT * FROM refills WHERE id = $1", refill_id)


async def uncertain_refill(stack, order_id: int, fault: str = "timeout") -> int:
    setattr(stack.sim.state.config.faults, fault, 1.0)
    refill_id = (await stack.api.call(key=stack.key, action="refill", order=order_id))["refill"]
    await forward(stack)
    setattr(stack.sim.state.config.faults, fault, 0.0)
    assert (await refill_row(stack, refill_id))["dispatch_state"] == "uncertain"
    return refill_id


@pytest.mark.parametrize("fault", ["timeout", "reset", "http_500", "malformed_json", "empty"])
async def test_a_refill_whose_answer_was_lost_is_sent_once_and_left_uncertain(stack, fault) -> None:
    order_id = await completed_order(stack)
    setattr(stack.sim.state.config.faults, fault, 1.0)
    refill_id = (await stack.api.call(key=stack.key, action="refill", order=order_id))["refill"]
    await forward(stack)
    assert refill_calls(stack) == 1  # never re-sent
    refill = await refill_row(stack, refill_id)
    assert (refill["dispatch_state"], refill["status"]) == ("uncertain", "Pending")
    setattr(stack.sim.state.config.faults, fault, 0.0)
    await forward(stack)
    assert refill_calls(stack) == 1
    # Still open: the customer sees it pending and cannot stack another on the same order.
    assert await stack.api.call(key=stack.key, action="refill_status", refill=refill_id) == {
        "status": "Pending"
    }
    assert await stack.api.call(key=stack.key, action="refill", order=order_id) == {
        "error": "Refill is not available for this order"
    }
    await money_holds(stack.pool)


async def test_a_refill_left_in_flight_by_a_dead_process_becomes_uncertain_not_resent(
    stack,
) -> None:
    order_id = await completed_order(stack)
    refill_id = (await stack.api.call(key=stack.key, action="refill", order=order_id))["refill"]
    await stack.pool.execute(
        "UPDATE refills SET dispatch_state = 'sending', dispatch_attempts = 1,"
        " updated_at = now() - interval '1 hour' WHERE id = $1",
        refill_id,
    )
    await forward(stack)
    refill = await refill_row(stack, refill_id)
    assert (refill["dispatch_state"], refill["status"]) == ("uncertain", "Pending")
    assert refill["dispatch_error"] == "in flight when its process stopped"
    assert refill_calls(stack) == 0
    await money_holds(stack.pool)


async def test_a_refill_abandoned_in_flight_at_shutdown_becomes_uncertain(stack) -> None:
    order_id = await completed_order(stack)
    stack.sim.state.config.latency = 5.0  # the call outlives the stop's grace
    refill_id = (await stack.api.call(key=stack.key, action="refill", order=order_id))["refill"]
    await stack.dispatcher.scan_once()
    await asyncio.sleep(0.1)
    await stack.dispatcher.stop(0.1)
    refill = await refill_row(stack, refill_id)
    assert (refill["dispatch_state"], refill["dispatch_error"]) == (
        "uncertain",
        "abandoned in flight at shutdown",
    )
    await money_holds(stack.pool)


async def test_a_refill_that_never_reached_the_provider_is_retried_and_sent_once(stack) -> None:
    order_id = await completed_order(stack)
    live_provider = stack.live.current.providers[0]
    closed = ProviderConfig(
        name="sim", url=f"http://127.0.0.1:{free_port()}/api/v2", key_env="SIM_TEST_KEY"
    )
    stack.upstreams.update([closed])
    refill_id = (await stack.api.call(key=stack.key, action="refill", order=order_id))["refill"]
    await forward(stack, rounds=1)
    refill = await refill_row(stack, refill_id)
    assert (refill["dispatch_state"], refill["dispatch_attempts"]) == ("queued", 1)
    assert refill["dispatch_error"].startswith("cannot connect")
    stack.upstreams.update([live_provider])
    await forward(stack)
    refill = await refill_row(stack, refill_id)
    assert refill["dispatch_state"] == "placed"
    assert int(refill["upstream_refill_id"]) in stack.sim.state.refills
    assert refill_calls(stack) == 1
    await money_holds(stack.pool)


# --- the operator ---


async def test_uncertain_refills_are_listed_with_uncertain_orders(stack, operator, capsys) -> None:
    stack.sim.state.config.faults.timeout = 1.0
    lost = (await stack.add(link="https://ig.com/lost"))["order"]
    await stack.settle()
    stack.sim.state.config.faults.timeout = 0.0
    order_id = await completed_order(stack)
    refill_id = await uncertain_refill(stack, order_id)
    code, out, _ = await run(capsys, "orders", "list", "--uncertain")
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split()[:3] == ["ID", "KIND", "CUSTOMER"]
    assert [row.split()[:2] for row in rows] == [[str(lost), "order"], [str(refill_id), "refill"]]
    assert f"refill of order {order_id}" in rows[1]
    await money_holds(stack.pool)


async def test_operator_links_an_uncertain_refill_the_provider_knows_and_it_is_polled(
    stack, operator, capsys
) -> None:
    order_id = await completed_order(stack)
    refill_id = await uncertain_refill(stack, order_id)
    [upstream] = [r.id for r in stack.sim.state.refills.values()]
    code, out, err = await run(
        capsys, "orders", "resolve-refill", str(refill_id), "--upstream-refill", "987654"
    )
    assert (code, out) == (2, "")
    assert "sim does not know upstream refill 987654" in err
    assert (await refill_row(stack, refill_id))["dispatch_state"] == "uncertain"
    code, out, _ = await run(
        capsys, "orders", "resolve-refill", str(refill_id), "--upstream-refill", str(upstream)
    )
    assert (code, out) == (0, f"refill {refill_id}: linked to upstream refill {upstream}\n")
    refill = await refill_row(stack, refill_id)
    assert (refill["dispatch_state"], refill["upstream_refill_id"]) == ("placed", str(upstream))
    stack.sim.state.force_refill_status(upstream, "Completed")
    await stack.jobs.refills()
    assert await stack.api.call(key=stack.key, action="refill_status", refill=refill_id) == {
        "status": "Completed"
    }
    audit = await stack.pool.fetchrow("SELECT action, subject, detail FROM audit_log")
    assert dict(audit) == {
        "action": "resolve-refill-link",
        "subject": f"refill {refill_id}",
        "detail": {"upstream_refill": str(upstream)},
    }
    assert refill_calls(stack) == 1
    await money_holds(stack.pool)


async def test_an_upstream_refill_linked_to_another_refill_is_refused(
    stack, operator, capsys
) -> None:
    first = await completed_order(stack, "https://ig.com/refill-1")
    second = await completed_order(stack, "https://ig.com/refill-2")
    await stack.api.call(key=stack.key, action="refill", order=first)
    await forward(stack)
    taken = await stack.pool.fetchval("SELECT upstream_refill_id FROM refills")
    refill_id = await uncertain_refill(stack, second)
    code, _, err = await run(
        capsys, "orders", "resolve-refill", str(refill_id), "--upstream-refill", taken
    )
    assert code == 2
    assert f"upstream refill {taken} is already linked to refill 1" in err
    assert (await refill_row(stack, refill_id))["dispatch_state"] == "uncertain"
    await money_holds(stack.pool)


async def test_an_uncertain_refill_resolved_as_rejected_lets_the_customer_ask_again(
    stack, operator, capsys
) -> None:
    order_id = await completed_order(stack)
    refill_id = await uncertain_refill(stack, order_id, fault="html")  # it never got there
    code, out, _ = await run(capsys, "orders", "resolve-refill", str(refill_id), "--rejected")
    assert (code, out) == (0, f"refill {refill_id}: rejected\n")
    assert await stack.api.call(key=stack.key, action="refill_status", refill=refill_id) == {
        "status": "Rejected"
    }
    again = await stack.api.call(key=stack.key, action="refill", order=order_id)
    assert again["refill"] != refill_id
    await forward(stack)
    assert (await refill_row(stack, again["refill"]))["dispatch_state"] == "placed"
    actions = [r["action"] for r in await stack.pool.fetch("SELECT action FROM audit_log")]
    assert actions == ["resolve-refill-rejected"]
    code, _, err = await run(capsys, "orders", "resolve-refill", str(refill_id), "--rejected")
    assert code == 2
    assert f"refill {refill_id} is not uncertain" in err
    await money_holds(stack.pool)
