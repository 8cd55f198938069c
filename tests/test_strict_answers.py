"""The strict answer table over the real API, dispatcher, PostgreSQL and simulated panel: an
answer outside what the order allows (an unknown status word, remains above its quantity or
negative, a charge above its cost) freezes the order with no money moved, until a sane answer
or the operator settles it; `status_aliases` teaches a provider's own words, and
`strict_answers: false` settles as before."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from support import money_holds, refunds_fail
from test_cli import run

from reseller import config, errors, metrics
from reseller.alerts import conditions

QUANTITY = 100  # 0.135 to the customer, 0.09 upstream (rate 0.90)


async def placed(stack, link: str = "https://ig.com/strict") -> tuple[int, int]:
    """An order placed upstream: its ID and the simulated panel's."""
    order_id = (await stack.add(link=link, quantity=QUANTITY))["order"]
    await stack.settle()
    return order_id, int((await stack.order(order_id))["upstream_order_id"])


async def poll(stack) -> dict:
    await stack.pool.execute("UPDATE orders SET last_polled_at = NULL")
    return await stack.jobs.status()


def answer_with(stack, upstream_id: int, status: str, *, remains=None, charge=None) -> None:
    """The panel answers this for the order from now on (its money as a panel would)."""
    stack.sim.state.force_status(upstream_id, status, remains=remains)
    if charge is not None:
        stack.sim.state.orders[upstream_id].charge = Decimal(charge)


def provider_settings(stack, **changes) -> None:
    """The stack's provider with these settings, as a config reload would give it."""
    current = stack.live.current
    provider = dataclasses.replace(current.providers[0], **changes)
    stack.live.current = dataclasses.replace(current, providers=(provider,))
    stack.upstreams.update(stack.live.current.providers)


async def frozen_with_nothing_moved(stack, order_id: int, reason: str) -> dict:
    order = await stack.order(order_id)
    assert order["frozen"] == reason
    assert (order["settled_at"], order["refunded"]) == (None, 0)
    assert await stack.pool.fetchval("SELECT count(*) FROM ledger WHERE kind = 'refund'") == 0
    await money_holds(stack.pool)
    return order["frozen_answer"]


async def test_an_unknown_status_word_freezes_the_order_moves_no_money_and_is_polled_again(
    stack,
) -> None:
    order_id, upstream_id = await placed(stack)
    answer_with(stack, upstream_id, "Done")
    assert (await poll(stack))["frozen"] == 1
    sent = await frozen_with_nothing_moved(stack, order_id, "unknown status 'Done'")
    assert sent["status"] == "Done"  # the answer as the panel sent it
    view = await stack.api.call(key=stack.key, action="status", order=order_id)
    assert (view["status"], view["charge"]) == ("Processing", "0.135")
    assert b"reseller_frozen_orders 1.0" in await metrics.render(stack.pool)
    [alert] = [
        c
        for c in await conditions.current(stack.pool, stack.live.current)
        if c.kind == "orders_frozen"
    ]
    assert alert.items == frozenset([str(order_id)])
    assert "unknown status 'Done'" in alert.text
    requests = len(stack.sim.state.requests)
    assert (await poll(stack))["frozen"] == 1  # still polled, still frozen
    assert len(stack.sim.state.requests) == requests + 1


async def test_a_status_alias_makes_the_word_known_and_the_order_settles(stack) -> None:
    provider_settings(stack, status_aliases={"done": "Completed", "fail": "Canceled"})
    order_id, upstream_id = await placed(stack)
    answer_with(stack, upstream_id, "FAIL", remains=QUANTITY)
    assert (await poll(stack))["refunded"] == 1
    order = await stack.order(order_id)
    assert (order["status"], order["refunded"], order["frozen"]) == (
        "Canceled",
        Decimal("0.135"),
        None,
    )
    await money_holds(stack.pool)


@pytest.mark.parametrize("status", ["In progress", "Completed", "Partial", "Canceled"])
async def test_remains_above_the_quantity_freeze_the_order_whatever_the_status(
    stack, status
) -> None:
    order_id, upstream_id = await placed(stack)
    answer_with(stack, upstream_id, status, remains=QUANTITY + 50)
    assert (await poll(stack))["frozen"] == 1
    await frozen_with_nothing_moved(stack, order_id, "remains 150 above the order's 100")


async def test_negative_remains_freeze_the_order(stack) -> None:
    order_id, upstream_id = await placed(stack)
    answer_with(stack, upstream_id, "Partial", remains=-5)
    await poll(stack)
    await frozen_with_nothing_moved(stack, order_id, "negative remains -5")


async def test_a_charge_above_what_the_order_can_cost_freezes_it(stack) -> None:
    order_id, upstream_id = await placed(stack)
    assert (await stack.order(order_id))["upstream_rate"] == Decimal("0.90")  # kept at claim
    answer_with(stack, upstream_id, "Completed", charge="0.11")  # 0.09 and a rounding cent fit
    await poll(stack)
    sent = await frozen_with_nothing_moved(
        stack, order_id, "charge 0.11 above the most the order can cost, 0.09"
    )
    assert sent["charge"] == "0.11"


async def test_a_later_sane_answer_unfreezes_the_order_and_settles_it_exactly(stack) -> None:
    order_id, upstream_id = await placed(stack)
    answer_with(stack, upstream_id, "In queue")
    await poll(stack)
    assert (await stack.order(order_id))["frozen"] == "unknown status 'In queue'"
    answer_with(stack, upstream_id, "Partial", remains=40)
    assert (await poll(stack))["refunded"] == 1
    order = await stack.order(order_id)
    assert (order["status"], order["remains"], order["frozen"], order["frozen_answer"]) == (
        "Partial",
        40,
        None,
        None,
    )
    assert order["refunded"] == Decimal("0.054")  # 0.135 × 40 / 100
    assert b"reseller_frozen_orders 0.0" in await metrics.render(stack.pool)
    await money_holds(stack.pool)


async def test_the_operator_sees_a_frozen_order_and_settles_it_exactly(
    stack, operator, capsys
) -> None:
    order_id, upstream_id = await placed(stack)
    answer_with(stack, upstream_id, "Error")
    await poll(stack)
    code, out, _ = await run(capsys, "orders", "list", "--flagged")
    assert code == 0
    assert "frozen: unknown status 'Error'; answer {" in out
    code, out, _ = await run(capsys, "orders", "show", str(order_id))
    assert code == 0
    assert "unknown status 'Error'" in out
    assert '"status":"Error"' in out
    code, out, _ = await run(
        capsys,
        "orders",
        "resolve",
        str(order_id),
        "--accept-status",
        "Partial",
        "--remains",
        "40",
        "--reason",
        "panel support: 60 delivered",
    )
    assert (code, out) == (0, f"order {order_id}: Partial, 0.054 refunded\n")
    order = await stack.order(order_id)
    assert (order["status"], order["remains"], order["refunded"], order["frozen"]) == (
        "Partial",
        40,
        Decimal("0.054"),
        None,
    )
    assert order["settled_at"] is not None
    entry = await stack.pool.fetchrow("SELECT * FROM audit_log")
    assert (entry["action"], entry["subject"], entry["reason"]) == (
        "resolve-frozen",
        f"order {order_id}",
        "panel support: 60 delivered",
    )
    await money_holds(stack.pool)
    assert (await poll(stack))["requests"] == 0  # settled: no longer polled


async def test_an_operators_settlement_is_checked_against_the_providers_charge(
    stack, operator, capsys
) -> None:
    """Frozen on a word we do not know, its charge kept (0.09, the full cost): the operator
    finds it Partial at 60 of 100, so the provider owed us 0.036 back and did not refund it."""
    order_id, upstream_id = await placed(stack, link="https://ig.com/strict-checked")
    answer_with(stack, upstream_id, "Error")
    await poll(stack)
    code, _, _ = await run(
        capsys, "orders", "resolve", str(order_id), "--accept-status", "Partial", "--remains", "40"
    )
    assert code == 0
    losses = await stack.pool.fetch("SELECT kind, at_stake FROM provider_losses")
    assert [(r["kind"], r["at_stake"]) for r in losses] == [("unrefunded", Decimal("0.036"))]
    await money_holds(stack.pool)


@pytest.mark.parametrize(
    ("argv", "refusal"),
    [
        (["--accept-status", "Partial", "--remains", "150"], "Partial with remains 150 of 100"),
        (["--accept-status", "Partial"], "--remains goes with --accept-status Partial"),
        (["--accept-status", "Completed", "--remains", "5"], "--remains goes with"),
    ],
)
async def test_resolve_refuses_values_outside_the_table(
    stack, operator, capsys, argv, refusal
) -> None:
    order_id, upstream_id = await placed(stack)
    answer_with(stack, upstream_id, "Done")
    await poll(stack)
    code, out, err = await run(capsys, "orders", "resolve", str(order_id), *argv)
    assert (code, out) == (2, "")
    assert refusal in err
    await frozen_with_nothing_moved(stack, order_id, "unknown status 'Done'")
    assert await stack.pool.fetchval("SELECT count(*) FROM audit_log") == 0


async def test_resolve_settles_only_frozen_orders(stack, operator, capsys) -> None:
    order_id, _ = await placed(stack)
    code, _, err = await run(
        capsys, "orders", "resolve", str(order_id), "--accept-status", "Canceled"
    )
    assert code == 2
    assert f"order {order_id} is not frozen" in err
    assert (await stack.order(order_id))["refunded"] == 0


async def test_an_interrupted_resolve_leaves_the_order_frozen_with_nothing_refunded(
    stack, operator, capsys
) -> None:
    order_id, upstream_id = await placed(stack)
    answer_with(stack, upstream_id, "Fail")
    await poll(stack)
    async with refunds_fail(stack.pool):
        code, _, err = await run(
            capsys, "orders", "resolve", str(order_id), "--accept-status", "Canceled"
        )
    assert code != 0
    assert "refund interrupted" in err
    await frozen_with_nothing_moved(stack, order_id, "unknown status 'Fail'")
    assert await stack.pool.fetchval("SELECT count(*) FROM audit_log") == 0
    code, _, _ = await run(
        capsys, "orders", "resolve", str(order_id), "--accept-status", "Canceled"
    )
    assert code == 0  # the same resolve, whole this time
    assert (await stack.order(order_id))["refunded"] == Decimal("0.135")
    await money_holds(stack.pool)


async def test_with_strict_answers_off_out_of_table_answers_settle_as_before(stack) -> None:
    provider_settings(stack, strict_answers=False)
    unknown, unknown_upstream = await placed(stack, "https://ig.com/word")
    overcharged, overcharged_upstream = await placed(stack, "https://ig.com/charge")
    answer_with(stack, unknown_upstream, "Done")
    answer_with(stack, overcharged_upstream, "Canceled", remains=QUANTITY + 50, charge="5")
    counts = await poll(stack)
    assert (counts["frozen"], counts["unreadable"], counts["refunded"]) == (0, 1, 1)
    word, charged = await stack.order(unknown), await stack.order(overcharged)
    assert (word["frozen"], word["settled_at"], word["status"]) == (None, None, "Processing")
    assert (charged["frozen"], charged["status"]) == (None, "Canceled")
    assert charged["refunded"] == Decimal("0.135")  # refunded on an answer out of the table
    await money_holds(stack.pool)


async def test_the_simulator_answers_out_of_the_table_at_its_rate_and_every_one_freezes(
    stack,
) -> None:
    stack.sim.state.config.faults.odd_answers = 1.0
    ids = [(await placed(stack, f"https://ig.com/odd{i}"))[0] for i in range(12)]
    assert (await poll(stack))["frozen"] == 12
    reasons = await stack.pool.fetch("SELECT frozen FROM orders WHERE id = ANY($1::bigint[])", ids)
    kinds = {r["frozen"].split(" ")[0] for r in reasons}
    assert kinds == {"unknown", "remains", "charge"}  # each of the three odd answers
    assert await stack.pool.fetchval("SELECT count(*) FROM ledger WHERE kind = 'refund'") == 0
    await money_holds(stack.pool)


async def odd_status_answer(seed: int) -> dict:
    """A fresh simulated panel with half its answers odd: 20 orders, one multi-status call."""
    import aiohttp
    from aiohttp.test_utils import TestServer

    from reseller.simulator import Faults, SimConfig, create_app

    panel = TestServer(create_app(SimConfig(seed=seed, faults=Faults(odd_answers=0.5))))
    await panel.start_server()
    url, form = str(panel.make_url("/api/v2")), {"key": "sim-key", "service": "1"}
    try:
        async with aiohttp.ClientSession() as session:
            for n in range(20):
                add = {**form, "action": "add", "link": f"https://ig.com/{n}", "quantity": "100"}
                await (await session.post(url, data=add)).read()
            ids = ",".join(str(10001 + n) for n in range(20))
            status = {**form, "action": "status", "orders": ids}
            return await (await session.post(url, data=status)).json()
    finally:
        await panel.close()


async def test_the_simulators_odd_answers_repeat_for_the_same_seed() -> None:
    first, again, other = [await odd_status_answer(s) for s in (5, 5, 6)]
    assert first == again
    assert first != other
    sane = {"status": "Pending", "remains": "100", "charge": "0.09"}
    odd = [k for k, body in first.items() if any(body[f] != v for f, v in sane.items())]
    assert 3 <= len(odd) <= 17  # about half


# --- the configuration ---

PROVIDER = 'providers:\n  - {{name: p, url: "https://panel.example/api/v2", key_env: K, {}}}\n'


def test_status_aliases_are_read_case_insensitively_onto_api_statuses() -> None:
    [provider] = config.parse(
        PROVIDER.format('status_aliases: {Done: Completed, "In_Queue": Pending}')
    ).providers
    assert provider.status_aliases == {"done": "Completed", "in queue": "Pending"}
    assert provider.strict_answers is True


@pytest.mark.parametrize(
    ("aliases", "problem"),
    [
        ("{done: Finished}", "'done': 'Finished' is not an API status"),
        ("{Done: Completed, DONE: Partial}", "'DONE': given twice"),
        ("{Cancelled: Completed}", "'Cancelled': already a known spelling of Canceled"),
        ("[done]", "must be a mapping of spellings to statuses"),
    ],
)
def test_status_aliases_that_are_not_a_clear_table_are_refused(aliases, problem) -> None:
    with pytest.raises(errors.ConfigError) as refused:
        config.parse(PROVIDER.format(f"status_aliases: {aliases}"))
    assert f"providers[0].status_aliases: {problem}" in refused.value.message


def test_strict_answers_takes_a_boolean() -> None:
    [provider] = config.parse(PROVIDER.format("strict_answers: false")).providers
    assert provider.strict_answers is False
    with pytest.raises(errors.ConfigError):
        config.parse(PROVIDER.format("strict_answers: sometimes"))
