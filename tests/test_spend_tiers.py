"""Spend tiers (`pricing.groups.*.tiers`): a group's customer pays less once what it paid in the
last 30 days reaches a tier — from the tiers job's next evaluation on, never mid-order, never
below cost — and every order keeps the rate it was charged at. Real PostgreSQL, the real app
over HTTP with its dispatcher, the simulated panel as the provider."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import orjson
import pytest
from conftest import STACK_YAML
from support import money_holds, poll_until
from test_cli import run

from reseller import config, customers
from reseller.audit import Actor

# Sim costs: 1 → 0.90, 3 → 2.10; the price list's 50 % makes them 1.35 and 3.15. The group takes
# 10 % off service 1 (1.215) and nothing off 3 (3.15). Its first tier's 20 % makes them 0.972 and
# 2.52; its second's 30 % would sell 1 at 0.8505, below its cost, so 1 keeps the group's 1.215
# while 3 goes to 2.205.
TIERS = """
  groups:
    volume:
      discount_percent: 10
      services: {{3: {{discount_percent: 0}}}}
      tiers: [{{spent: 1, discount_percent: 20}}, {{spent: 5, discount_percent: 30}}]
"""


def with_groups(stack, groups: str) -> config.Config:
    return config.parse(yaml_with_groups(stack, groups))


def yaml_with_groups(stack, groups: str) -> str:
    """The stack's config file with `groups` under its pricing."""
    pricing = "pricing:\n  markup_percent: 50" + groups.rstrip()
    yaml = STACK_YAML.replace("pricing: {{markup_percent: 50}}", pricing)
    return yaml.format(url=stack.sim.url, inline="false")


@pytest.fixture
def tiered(stack):
    """The stack, its config with the `volume` group."""
    stack.live.current = with_groups(stack, TIERS)
    return stack


async def join_volume(stack) -> None:
    await customers.update(stack.pool, "acme", by=Actor("admin"), price_group="volume")
    await poll_until(lambda: rates_are(stack, {1: "1.215", 3: "3.15"}), within=5)


async def rates_are(stack, expected: dict[int, str]) -> bool:
    answer = await stack.api.call(key=stack.key, action="services")
    return {s["service"]: s["rate"] for s in answer if s["service"] in expected} == expected


async def ended_partial(stack, order_id: int, *, remains: int) -> None:
    """The panel ends the order Partial with `remains` undelivered; the status job settles it."""
    upstream = int((await stack.order(order_id))["upstream_order_id"])
    stack.sim.state.force_status(upstream, "Partial", remains=remains)
    await stack.jobs.status()


async def charged(stack, order_id: int) -> tuple[Decimal, Decimal]:
    order = await stack.order(order_id)
    return order["charge"], order["list_charge"]


async def test_a_customer_pays_its_tier_from_the_evaluation_after_it_reaches_it(tiered) -> None:
    stack = tiered
    await join_volume(stack)
    first = (await stack.add(service=1, quantity=1000))["order"]
    assert await charged(stack, first) == (Decimal("1.215"), Decimal("1.35"))
    # Its spend now reaches the first tier, but no evaluation has seen it: same rates.
    second = (await stack.add(service=1, quantity=1000))["order"]
    assert (await charged(stack, second))[0] == Decimal("1.215")

    assert (await stack.jobs.tiers())["changed"] == 1
    await poll_until(lambda: rates_are(stack, {1: "0.972", 3: "2.52"}), within=5)
    third = (await stack.add(service=3, quantity=1000))["order"]
    assert await charged(stack, third) == (Decimal("2.52"), Decimal("3.15"))

    await stack.jobs.tiers()  # 1.215 × 2 + 2.52 = 4.95: still the first tier
    assert (await customers.get(stack.pool, "acme")).spent_30d == Decimal("4.95")
    assert await rates_are(stack, {1: "0.972", 3: "2.52"})
    await stack.add(service=1, quantity=100)
    await stack.jobs.tiers()  # 5.0472: the second tier, which would sell 1 below its cost
    await poll_until(lambda: rates_are(stack, {1: "1.215", 3: "2.205"}), within=5)

    # Orders placed more than 30 days ago no longer count.
    await stack.pool.execute("UPDATE orders SET created_at = now() - interval '31 days'")
    await stack.jobs.tiers()
    await poll_until(lambda: rates_are(stack, {1: "1.215", 3: "3.15"}), within=5)
    # Every order kept the charge it was placed at.
    assert [await charged(stack, o) for o in (first, second, third)] == [
        (Decimal("1.215"), Decimal("1.35")),
        (Decimal("1.215"), Decimal("1.35")),
        (Decimal("2.52"), Decimal("3.15")),
    ]
    await money_holds(stack.pool)


async def test_customers_prices_and_list_show_the_tier_and_what_it_follows(
    tiered, cli_env, tmp_path, capsys
) -> None:
    stack = tiered
    (tmp_path / "config.yaml").write_text(yaml_with_groups(stack, TIERS))
    await join_volume(stack)
    await stack.add(service=1, quantity=1000)
    await stack.settle()  # its dispatch logs nothing into the command's output
    await stack.jobs.tiers()
    _, out, _ = await run(capsys, "customers", "prices", "acme")
    assert out.splitlines()[0] == (
        "acme: group volume, tier 20% (paid 1.215 USD in 30 days), rates in USD"
    )
    _, out, _ = await run(capsys, "customers", "list", "--json")
    assert orjson.loads(out)[0]["paid_30d"] == "1.215"


async def test_refunds_count_against_the_spend_a_tier_follows(tiered) -> None:
    stack = tiered
    await join_volume(stack)
    order_id = (await stack.add(service=3, quantity=1000))["order"]  # 3.15
    await stack.settle()
    await ended_partial(stack, order_id, remains=800)  # 2.52 back: 0.63 paid
    await stack.jobs.tiers()
    assert (await customers.get(stack.pool, "acme")).spent_30d == Decimal("0.63")
    assert await rates_are(stack, {1: "1.215", 3: "3.15"})
    await money_holds(stack.pool)


async def test_concurrent_adds_at_a_tier_boundary_each_pay_one_rate(tiered) -> None:
    """The tier moves while orders are being placed: each order is priced by the customer as
    one request read it, so it pays the group's rate or the tier's, never a mix, and the money
    holds."""
    stack = tiered
    await join_volume(stack)
    await stack.add(service=1, quantity=800)  # 0.972 paid: 0.0243 (one more order) short
    group_rate, tier_rate = Decimal("0.1215"), Decimal("0.0972")  # for 100
    placing = True

    async def customer() -> list[int]:
        """Orders one after another until one is charged the tier's rate (15 at most)."""
        ids = []
        for _ in range(15):
            ids.append((await stack.add(service=1, quantity=100))["order"])
            if (await charged(stack, ids[-1]))[0] == tier_rate:
                break
        return ids

    async def evaluations() -> None:
        while placing:
            await stack.jobs.tiers()
            await asyncio.sleep(0.02)

    evaluating = asyncio.create_task(evaluations())
    try:
        batches = await asyncio.gather(*(customer() for _ in range(4)))
    finally:
        placing = False
        await evaluating
    rows = await stack.pool.fetch(
        "SELECT charge, list_charge FROM orders WHERE id = ANY($1::bigint[])",
        [i for batch in batches for i in batch],
    )
    assert {r["list_charge"] for r in rows} == {Decimal("0.135")}
    assert {r["charge"] for r in rows} == {group_rate, tier_rate}  # both, and only these
    await money_holds(stack.pool)


async def test_status_and_refunds_follow_the_rate_a_group_customer_paid(tiered) -> None:
    stack = tiered
    await join_volume(stack)
    order_id = (await stack.add(service=1, quantity=100))["order"]
    await stack.settle()
    view = await stack.api.call(key=stack.key, action="status", order=order_id)
    assert view["charge"] == "0.1215"
    # The group's terms change after the order: the order keeps what it was charged.
    deeper = TIERS.replace("discount_percent: 10", "discount_percent: 15")
    stack.live.current = with_groups(stack, deeper)
    await poll_until(lambda: rates_are(stack, {1: "1.1475"}), within=5)
    await ended_partial(stack, order_id, remains=40)
    view = await stack.api.call(key=stack.key, action="status", order=order_id)
    assert (view["status"], view["charge"], view["remains"]) == ("Partial", "0.0729", "40")
    refund = await stack.pool.fetchval(
        "SELECT sum(amount) FROM ledger WHERE order_id = $1 AND kind = 'refund'", order_id
    )
    assert refund == Decimal("0.0486")  # 0.1215 × 40 / 100
    await money_holds(stack.pool)


async def test_report_by_customer_shows_the_discount_on_what_was_paid(
    tiered, operator, capsys
) -> None:
    stack = tiered
    await join_volume(stack)
    order_id = (await stack.add(service=1, quantity=100))["order"]  # 0.1215 of the list's 0.135
    await stack.settle()
    await ended_partial(stack, order_id, remains=40)
    code, out, _ = await run(capsys, "report", "--by", "customer", "--json")
    assert code == 0
    [line, total] = orjson.loads(out)["lines"]
    # 0.0135 off the list, on the 60 % delivered and paid for.
    assert (line["key"], line["discount"], line["discount_base"]) == ("acme", "0.0081", "0.0081")
    assert total["discount_base"] == "0.0081"
    await money_holds(stack.pool)


async def test_an_order_placed_before_list_charges_were_kept_shows_no_discount(
    tiered, operator, capsys
) -> None:
    stack = tiered
    await join_volume(stack)
    order_id = (await stack.add(service=1, quantity=100))["order"]
    await stack.pool.execute("UPDATE orders SET list_charge = NULL WHERE id = $1", order_id)
    _, out, _ = await run(capsys, "report", "--by", "customer", "--json")
    assert orjson.loads(out)["lines"][0]["discount"] == "0.00"
