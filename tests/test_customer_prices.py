"""Per-customer prices (`reseller customers price`): on top of its price group, a customer
pays its own rate or discount for a service, never below the upstream cost; a cost rise that
makes it a loss takes that service off sale for that customer only, and `customers prices`
says why. Real PostgreSQL, the real app over HTTP, the real CLI, the simulated panel."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import orjson
import pytest_asyncio
from support import poll_until
from test_cli import run
from test_price_groups import YAML, Shop, charge_of, open_shop

from reseller import config
from reseller.catalog import Catalog, Service
from reseller.catalog.customer_prices import PriceOverride


@pytest_asyncio.fixture(loop_scope="session")
async def shop(pool, sim, cli_env, tmp_path: Path) -> AsyncIterator[Shop]:
    (tmp_path / "config.yaml").write_text(YAML.format(url=sim.url))  # what the CLI reads
    async with open_shop(pool, sim) as s:
        yield s


async def until_rate(shop: Shop, key: str, service: int, rate: str | None) -> None:
    """Within 5 s, well inside the key cache's 30 s: the NOTIFY reached the server."""

    async def check() -> bool:
        return (await shop.rates(key)).get(service) == rate

    await poll_until(check, within=5)


async def audited(shop: Shop) -> list[tuple[str, str | None, dict]]:
    rows = await shop.pool.fetch(
        "SELECT subject, reason, detail FROM audit_log WHERE action = 'customer-price' ORDER BY id"
    )
    return [(r["subject"], r["reason"], r["detail"]) for r in rows]


async def test_an_override_rate_is_what_that_customer_sees_and_pays_and_no_one_else(
    shop, capsys
) -> None:
    acme = await shop.customer("acme", None)
    other = await shop.customer("other", None)
    assert (await shop.rates(acme))[1] == "1.35"  # its key is cached now
    code, out, _ = await run(
        capsys, "customers", "price", "acme", "--service", "1", "--rate", "1.00"
    )
    assert (code, out) == (
        0,
        "acme: service 1 at rate 1.00, pays 1.00 (was the group or list rate)\n",
    )
    await until_rate(shop, acme, 1, "1.00")
    assert await shop.rates(acme) == {1: "1.00", 2: "0.38", 3: "3.00", 9: "1.13"}
    assert (await shop.rates(other))[1] == "1.35"
    order = (await shop.add(acme, 1, quantity=2000))["order"]
    assert await charge_of(shop, order) == (Decimal("2.00"), "USD")
    order = (await shop.add(other, 1))["order"]
    assert await charge_of(shop, order) == (Decimal("1.35"), "USD")


async def test_a_discount_applies_on_top_of_the_group_rate(shop, capsys) -> None:
    big = await shop.customer("big", "wholesale")  # 1 at 1.22 in its group
    mate = await shop.customer("mate", "wholesale")
    code, out, _ = await run(
        capsys, "customers", "price", "big", "--service", "1", "--discount", "10"
    )
    # 1.22 less 10 % is 1.098, rounded up like every rate: 1.10, above the cost 0.90.
    assert (code, out.split(", pays ")[1]) == (0, "1.10 (was the group or list rate)\n")
    await until_rate(shop, big, 1, "1.10")
    assert (await shop.rates(mate))[1] == "1.22"
    order = (await shop.add(big, 1))["order"]
    assert await charge_of(shop, order) == (Decimal("1.10"), "USD")


async def test_an_override_below_cost_is_refused_in_one_line_and_nothing_is_stored(
    shop, capsys
) -> None:
    await shop.customer("acme", None)
    code, _, err = await run(
        capsys, "customers", "price", "acme", "--service", "1", "--rate", "0.50"
    )
    assert (code, err) == (
        2,
        "reseller: refused: 0.50 is below service 1's cost 0.90; nothing changed\n",
    )
    # 50 % off the list's 1.35 is 0.675, rounded up 0.68: still below 0.90.
    code, _, err = await run(
        capsys, "customers", "price", "acme", "--service", "1", "--discount", "50"
    )
    assert (code, err) == (
        2,
        "reseller: refused: 0.68 is below service 1's cost 0.90; nothing changed\n",
    )
    assert await shop.pool.fetchval("SELECT count(*) FROM customer_prices") == 0
    assert await audited(shop) == []


async def test_unknown_customers_services_and_hidden_services_are_refused(shop, capsys) -> None:
    await shop.customer("partner", "partners")  # allow: [1, "Tele*"]
    code, _, err = await run(
        capsys, "customers", "price", "nobody", "--service", "1", "--rate", "2"
    )
    assert (code, err) == (2, "reseller: no customer named 'nobody'\n")
    code, _, err = await run(
        capsys, "customers", "price", "partner", "--service", "999", "--rate", "2"
    )
    assert (code, err) == (2, "reseller: refused: service 999 is not on sale; nothing changed\n")
    # An override prices what the customer may see; it never unhides what its group hides.
    code, _, err = await run(
        capsys, "customers", "price", "partner", "--service", "2", "--rate", "2"
    )
    assert (code, err) == (
        2,
        "reseller: refused: service 2 is hidden by partner's group partners; nothing changed\n",
    )
    assert await shop.pool.fetchval("SELECT count(*) FROM customer_prices") == 0


async def test_a_cost_rise_takes_an_override_off_sale_for_that_customer_only(shop, capsys) -> None:
    acme = await shop.customer("acme", None)
    other = await shop.customer("other", None)
    code, _, _ = await run(
        capsys, "customers", "price", "acme", "--service", "3", "--rate", "2.50",
        "--reason", "partner deal",
    )  # fmt: skip
    assert code == 0
    await until_rate(shop, acme, 3, "2.50")
    shop.sim.state.set_rate(3, Decimal("2.60"))
    await shop.sync()  # the price list's 3.00 still sells above the new cost
    await until_rate(shop, acme, 3, None)
    assert await shop.add(acme, 3) == {"error": "Invalid service ID"}
    assert (await shop.rates(acme))[9] == "1.13"
    assert (await shop.rates(other))[3] == "3.00"
    assert "order" in await shop.add(other, 3)
    _, out, _ = await run(capsys, "customers", "prices", "acme", "--csv")
    assert out.splitlines() == [
        "service,price,rate,state,reason",
        "3,rate 2.50,2.50,off sale: rate 2.50 below cost 2.60,partner deal",
    ]
    shop.sim.state.set_rate(3, Decimal("2.10"))
    await shop.sync()
    await until_rate(shop, acme, 3, "2.50")
    _, out, _ = await run(capsys, "customers", "prices", "acme", "--json")
    assert '"state": "on sale"' in out


async def test_clear_restores_the_rate_and_every_change_is_audited(shop, capsys) -> None:
    acme = await shop.customer("acme", None)
    price = ("customers", "price", "acme", "--service", "9")
    assert (await run(capsys, *price, "--rate", "0.80", "--reason", "deal"))[0] == 0
    assert (await run(capsys, *price, "--discount", "10"))[0] == 0
    # 1.13 less 10 % is 1.017, rounded up: 1.02.
    await until_rate(shop, acme, 9, "1.02")
    _, out, _ = await run(capsys, "customers", "prices", "acme", "--json")
    assert orjson.loads(out) == [
        {"service": 9, "price": "discount 10%", "rate": "1.02", "state": "on sale", "reason": None}
    ]
    code, out, _ = await run(capsys, *price, "--clear")
    assert (code, out) == (0, "acme: service 9 no longer at its own discount 10%\n")
    await until_rate(shop, acme, 9, "1.13")
    code, _, err = await run(capsys, *price, "--clear")
    assert (code, err) == (2, "reseller: acme has no price of its own for service 9\n")
    assert await audited(shop) == [
        ("acme", "deal", {"service": 9, "from": "none", "to": "rate 0.80"}),
        ("acme", None, {"service": 9, "from": "rate 0.80", "to": "discount 10%"}),
        ("acme", None, {"service": 9, "from": "discount 10%", "to": "none"}),
    ]
    assert await shop.pool.fetchval("SELECT count(*) FROM customer_prices") == 0


def test_customers_with_the_same_overrides_share_one_encoded_answer() -> None:
    terms = config.parse("pricing: {rounding: {decimals: 2, mode: up}}").pricing
    base = Catalog(
        [
            Service(1, "a", "Default", "x", Decimal("1.00"), 10, 100, False, False, False,
                    cost=Decimal("0.50")),
            Service(2, "b", "Default", "x", Decimal("2.00"), 10, 100, False, False, False,
                    cost=Decimal("1.50")),
        ]
    )  # fmt: skip
    overrides = (PriceOverride(1, rate=Decimal("0.60")), PriceOverride(2, rate=Decimal("1")))
    view = base.for_customer(None, Decimal(0), overrides, terms)
    assert base.for_customer(None, Decimal(0), tuple(overrides), terms) is view
    assert [(s.id, s.rate) for s in (view.get(1), view.get(2)) if s] == [(1, Decimal("0.60"))]


async def test_an_override_is_converted_for_a_customer_paying_in_another_currency(
    shop, capsys
) -> None:
    euro = await shop.customer("euro", None, currency="EUR")
    code, _, _ = await run(capsys, "customers", "price", "euro", "--service", "1", "--rate", "1.00")
    assert code == 0
    # 1.00 USD at 1.25 USD per EUR: 0.80 EUR.
    await until_rate(shop, euro, 1, "0.80")
    order = (await shop.add(euro, 1))["order"]
    assert await charge_of(shop, order) == (Decimal("0.80"), "EUR")
