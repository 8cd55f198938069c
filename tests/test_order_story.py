"""`reseller orders show ID`: one order's whole story, from what the database keeps (real CLI,
real PostgreSQL, orders placed through the real API and forwarded to the simulated panel)."""

from __future__ import annotations

import orjson
from support import money_holds
from test_cli import run
from test_refills import forward, uncertain_refill
from test_resolve import uncertain_order
from test_sync import poll_again, upstream_of


def fields_and_story(out: str) -> tuple[dict[str, str], list[list[str]]]:
    """The text: `label  value` lines, a blank line, then the AT / EVENT / DETAIL table."""
    head, _, table = out.partition("\n\n")
    fields = dict(line.split(maxsplit=1) for line in head.splitlines())
    header, *rows = table.splitlines()
    assert header.split() == ["AT", "EVENT", "DETAIL"]
    # AT is two words (day and time); EVENT one; DETAIL the rest
    return fields, [[" ".join(r.split()[:2]), r.split()[2], r.split(maxsplit=3)[3]] for r in rows]


async def test_a_polled_partial_with_a_resolved_refill_tells_every_step_in_time_order(
    stack, operator, capsys
) -> None:
    order_id = (await stack.add(link="https://ig.com/story"))["order"]
    await stack.settle()
    upstream = await upstream_of(stack, order_id)
    stack.sim.state.force_status(upstream, "In progress", remains=60)
    await stack.jobs.status()
    stack.sim.state.force_status(upstream, "Partial", remains=40)
    await poll_again(stack)
    refill_id = await uncertain_refill(stack, order_id)
    [upstream_refill] = [r.id for r in stack.sim.state.refills.values()]
    code, _, err = await run(
        capsys,
        *("--actor", "alice", "orders", "resolve-refill", str(refill_id)),
        *("--upstream-refill", str(upstream_refill), "--reason", "seen in the panel"),
    )
    assert code == 0, err
    stack.sim.state.force_refill_status(upstream_refill, "Completed")
    await stack.jobs.refills()

    code, out, err = await run(capsys, "orders", "show", str(order_id))
    assert (code, err) == (0, "")
    fields, story = fields_and_story(out)
    assert {k: fields[k] for k in ("status", "remains", "charge", "refunded", "currency")} == {
        "status": "Partial",
        "remains": "40",
        "charge": "0.135",
        "refunded": "0.054",
        "currency": "USD",
    }
    assert (fields["provider"], fields["upstream_order_id"]) == ("sim", str(upstream))
    assert (fields["dispatch_state"], fields["dispatch_attempts"]) == ("placed", "1")
    assert (fields["poll_errors"], fields["flagged"], fields["dispatch_error"]) == ("0", "-", "-")
    assert [event for _, event, _ in story] == [
        "created",
        "charge",
        "refund",
        "settled",
        "refill",
        "audit",
    ]
    assert [detail for _, _, detail in story] == [
        "acme ordered 100 of service 1",
        "-0.135 USD",
        "0.054 USD: Partial upstream",
        "final status Partial",
        f"refill {refill_id} requested; now Completed, placed as upstream refill"
        f" {upstream_refill} (1 attempt)",
        f"resolve-refill-link by alice on refill {refill_id}: seen in the panel"
        f' {{"upstream_refill":"{upstream_refill}"}}',
    ]
    assert [at for at, _, _ in story] == sorted(at for at, _, _ in story)
    assert story[0][0] == fields["created_at"]
    assert story[3][0] == fields["settled_at"]
    await money_holds(stack.pool)


async def test_json_is_the_same_fields_and_story_as_one_object(stack, operator, capsys) -> None:
    order_id = (await stack.add(link="https://ig.com/story-json"))["order"]
    await stack.settle()
    stack.sim.state.force_status(await upstream_of(stack, order_id), "Partial", remains=40)
    await stack.jobs.status()
    _, text, _ = await run(capsys, "orders", "show", str(order_id))
    code, out, _ = await run(capsys, "orders", "show", str(order_id), "--json")
    assert code == 0
    shown = orjson.loads(out)
    fields, story = fields_and_story(text)
    assert [[e["at"], e["event"], e["detail"]] for e in shown.pop("story")] == story
    assert list(shown) == list(fields)
    assert {k: "-" if v is None else str(v) for k, v in shown.items() if k != "fields"} == {
        k: v for k, v in fields.items() if k != "fields"
    }
    assert shown["fields"] == orjson.loads(fields["fields"]) == {}
    assert (shown["id"], shown["refunded"], shown["flagged"]) == (order_id, "0.054", None)


async def test_a_refused_first_candidate_shows_as_two_attempts_on_the_second(
    stack, operator, capsys
) -> None:
    order_id = (await stack.add(service=2, link="https://ig.com/failover"))["order"]
    await stack.settle()
    _, out, _ = await run(capsys, "orders", "show", str(order_id))
    fields, story = fields_and_story(out)
    assert (fields["dispatch_attempts"], fields["dispatch_candidate"]) == ("2", "1")
    assert (fields["dispatch_state"], fields["upstream_service"]) == ("placed", "1")
    assert [event for _, event, _ in story] == ["created", "charge"]


async def test_a_canceled_order_shows_its_cancel_request_and_full_refund(
    stack, operator, capsys
) -> None:
    order_id = (await stack.add(link="https://ig.com/cancel"))["order"]
    await stack.settle()
    assert await stack.api.call(key=stack.key, action="cancel", orders=str(order_id)) == [
        {"order": order_id, "cancel": 1}
    ]
    await forward(stack)
    stack.sim.state.force_status(await upstream_of(stack, order_id), "Cancelled")
    await stack.jobs.status()
    cancel_id = await stack.pool.fetchval("SELECT id FROM cancel_requests")
    _, out, _ = await run(capsys, "orders", "show", str(order_id))
    fields, story = fields_and_story(out)
    assert (fields["status"], fields["refunded"]) == ("Canceled", "0.135")
    assert story[2:] == [
        [
            story[2][0],
            "cancel",
            f"cancel {cancel_id} requested; now placed, answered: accepted (1 attempt)",
        ],
        [story[3][0], "refund", "0.135 USD: Canceled upstream"],
        [story[3][0], "settled", "final status Canceled"],
    ]
    await money_holds(stack.pool)


async def test_an_order_the_provider_does_not_know_shows_its_poll_errors_and_flag(
    stack, operator, capsys
) -> None:
    order_id = (await stack.add(link="https://ig.com/unknown"))["order"]
    await stack.settle()
    await stack.pool.execute("UPDATE orders SET upstream_order_id = '424242'")
    await stack.jobs.status()
    _, out, _ = await run(capsys, "orders", "show", str(order_id))
    fields, _ = fields_and_story(out)
    assert (fields["poll_errors"], fields["flagged"]) == ("1", "-")
    await poll_again(stack)
    _, out, _ = await run(capsys, "orders", "show", str(order_id))
    fields, story = fields_and_story(out)
    assert (fields["poll_errors"], fields["settled_at"]) == ("2", "-")
    assert fields["flagged"] == "provider does not know it: Incorrect order ID"
    assert fields["last_polled_at"] != "-"
    assert [event for _, event, _ in story] == ["created", "charge"]  # money held


async def test_an_uncertain_order_refunded_by_the_operator_says_who_and_why(
    stack, operator, capsys
) -> None:
    order_id = await uncertain_order(stack, "https://ig.com/lost", fault="html")
    _, out, _ = await run(capsys, "orders", "show", str(order_id))
    fields, _ = fields_and_story(out)
    assert (fields["dispatch_state"], fields["dispatch_attempts"]) == ("uncertain", "1")
    assert fields["dispatch_error"].startswith("HTTP 200, not JSON")  # the last error
    code, _, err = await run(
        capsys,
        *("--actor", "bob", "orders", "resolve", str(order_id), "--refund"),
        *("--reason", "not in the panel's order list"),
    )
    assert code == 0, err
    _, out, _ = await run(capsys, "orders", "show", str(order_id))
    fields, story = fields_and_story(out)
    assert (fields["status"], fields["refunded"]) == ("Canceled", "0.135")
    assert fields["dispatch_error"] == "resolved by operator: not placed"
    assert [[event, detail] for _, event, detail in story[2:]] == [
        ["refund", "0.135 USD: resolved by operator: not placed"],
        ["settled", "final status Canceled"],
        ["audit", "resolve-refund by bob: not in the panel's order list"],
    ]
    await money_holds(stack.pool)


async def test_an_unknown_order_is_one_line_and_exit_2(cli_env, capsys) -> None:
    assert await run(capsys, "orders", "show", "999") == (2, "", "reseller: no order 999\n")
    assert await run(capsys, "orders", "show", "999", "--json") == (
        2,
        "",
        "reseller: no order 999\n",
    )
