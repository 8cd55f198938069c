"""Customers in another currency: they see, pay and are refunded in it, at the base sell rate
converted and rounded up; never sold below cost; reports convert back to the base currency; a
currency without a rate is refused wherever it could move money."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import orjson
from support import money_holds, poll_until
from test_cli import run
from test_sync import upstream_of

from reseller import config, customers, money, server

RUB = Decimal("0.011")  # 1 RUB = 0.011 USD


def with_rates(stack, **rates: str) -> None:
    """The operator's config now has these rates (as a reload would apply it)."""
    current = stack.live.current
    stack.live.current = dataclasses.replace(
        current, currency_rates={k: Decimal(v) for k, v in rates.items()}
    )


async def rub_customer(stack) -> str:
    _, key = await customers.create(stack.pool, "rub", balance=Decimal(1000), currency="RUB")
    return key


async def add(stack, key: str, link: str) -> int:
    answer = await stack.api.call(key=key, action="add", service=1, link=link, quantity=100)
    return answer["order"]


async def test_a_rub_customer_sees_pays_and_is_refunded_in_rubles(stack, cli_env, capsys) -> None:
    with_rates(stack, RUB=str(RUB))
    key = await rub_customer(stack)
    services = await stack.api.call(key=key, action="services")
    by_id = {s["service"]: s for s in services}
    # Base sell rate 1.35 USD (cost 0.90 + 50 %) / 0.011, rounded up: 122.72727… → 122.72728.
    assert by_id[1]["rate"] == "122.72728"
    order_id = await add(stack, key, "https://ig.com/rub")
    await stack.settle()
    order = await stack.order(order_id)
    assert (order["charge"], order["currency"], order["currency_rate"]) == (
        Decimal("12.27273"),
        "RUB",
        RUB,
    )
    assert await stack.api.call(key=key, action="balance") == {
        "balance": "987.72727",
        "currency": "RUB",
    }
    stack.sim.state.force_status(await upstream_of(stack, order_id), "Partial", remains=40)
    await stack.jobs.status()
    order = await stack.order(order_id)
    assert order["charge"] * RUB >= order["cost"]  # worth at least the upstream cost
    view = await stack.api.call(key=key, action="status", order=order_id)
    # Refund 12.27273 × 40 / 100 = 4.909092 → 4.90909 (down); paid 7.36364 RUB.
    assert (view["status"], view["charge"], view["currency"]) == ("Partial", "7.36364", "RUB")
    assert await stack.api.call(key=key, action="balance") == {
        "balance": "992.63636",
        "currency": "RUB",
    }
    await money_holds(stack.pool)

    code, out, _ = await run(capsys, "report", "--by", "customer", "--json")
    assert code == 0, out
    lines = {line["key"]: line for line in orjson.loads(out)["lines"]}
    assert (lines["rub"]["currency"], lines["rub"]["revenue"]) == ("RUB", "7.36364")
    assert lines["rub"]["revenue_base"] == money.format_amount(Decimal("7.36364") * RUB)
    assert (lines["TOTAL"]["currency"], lines["TOTAL"]["revenue"]) == ("USD", "0.081")
    # The margin is in USD: revenue at the order's rate, minus what the provider charged.
    margin = money.format_amount(Decimal("7.36364") * RUB - order["cost"])
    assert (lines["rub"]["margin"], margin) == ("0.027", "0.027")


async def test_a_rate_change_reaches_new_prices_never_placed_orders(stack) -> None:
    with_rates(stack, RUB=str(RUB))
    key = await rub_customer(stack)
    first = (
        await stack.api.call(
            key=key, action="add", service=1, link="https://ig.com/r1", quantity=100
        )
    )["order"]
    with_rates(stack, RUB="0.012")  # the reload
    services = {s["service"]: s for s in await stack.api.call(key=key, action="services")}
    assert services[1]["rate"] == "112.50"  # 1.35 / 0.012
    second = (
        await stack.api.call(
            key=key, action="add", service=1, link="https://ig.com/r2", quantity=100
        )
    )["order"]
    one, two = await stack.order(first), await stack.order(second)
    assert (one["charge"], one["currency_rate"]) == (Decimal("12.27273"), RUB)
    assert (two["charge"], two["currency_rate"]) == (Decimal("11.25"), Decimal("0.012"))


async def test_a_customer_whose_currency_lost_its_rate_can_buy_nothing(stack) -> None:
    with_rates(stack, RUB=str(RUB))
    key = await rub_customer(stack)
    with_rates(stack)  # the rate is gone (set by hand in the database, say)
    refused = {"error": "No prices in your account's currency, please contact support"}
    assert await stack.api.call(key=key, action="services") == refused
    add = {"action": "add", "service": 1, "link": "https://ig.com/x", "quantity": 100}
    assert await stack.api.call(key=key, **add) == refused
    assert await stack.pool.fetchval("SELECT count(*) FROM orders") == 0
    assert (await stack.api.call(key=key, action="balance"))["balance"] == "1000.00"


async def test_customers_add_refuses_a_currency_without_a_rate(cli_env, pool, capsys) -> None:
    code, _, err = await run(capsys, "customers", "add", "rub", "--currency", "XYZ")
    assert code == 2
    assert "no rate for XYZ in currency_rates" in err
    assert await pool.fetchval("SELECT count(*) FROM customers") == 0
    path = cli_env and (await _config_file(pool, "currency_rates: {RUB: 0.011}\n"))
    code, out, _ = await run(
        capsys, "--config", str(path), "customers", "add", "rub", "--currency", "RUB"
    )
    assert code == 0, out
    assert "balance 0.00 RUB" in out


async def test_config_check_and_reload_refuse_a_file_dropping_a_customers_rate(
    cli_env, dsn, pool, capsys
) -> None:
    await customers.create(pool, "rub", currency="RUB")
    good = await _config_file(pool, "currency_rates: {RUB: 0.011}\n", name="good.yaml")
    bad = await _config_file(pool, "currency_rates: {EUR: 1.08}\n", name="bad.yaml")
    code, _, err = await run(capsys, "config", "check", str(bad))
    assert code == 2
    assert "no rate for RUB, the currency of existing customers" in err
    assert (await run(capsys, "config", "check", str(good)))[0] == 0
    async with server.running(config.load(good), dsn, jobs=False) as rt:
        rt.live.current = dataclasses.replace(rt.live.current, source=bad)
        assert not await server.reload(rt)  # refused: the running config stays
        assert rt.live.current.currency_rates == {"RUB": Decimal("0.011")}


async def test_reload_refuses_a_provider_whose_key_variable_is_unset(
    cli_env, dsn, pool, monkeypatch, capsys
) -> None:
    provider = 'providers: [{name: p, url: "http://127.0.0.1:9/api/v2", key_env: P_KEY}]\n'
    path = await _config_file(pool, provider)
    monkeypatch.delenv("P_KEY", raising=False)
    code, _, err = await run(capsys, "config", "check", str(path))
    assert (code, "environment variable P_KEY is not set" in err) == (2, True)
    async with server.running(config.Config(), dsn, jobs=False) as rt:
        rt.live.current = dataclasses.replace(rt.live.current, source=path)
        assert not await server.reload(rt)  # exactly the check's refusal
        assert rt.live.current.providers == ()
        monkeypatch.setenv("P_KEY", "k")
        assert await server.reload(rt)
        assert [p.name for p in rt.live.current.providers] == ["p"]


async def _config_file(pool, text: str, *, name: str = "config.yaml"):
    from pathlib import Path

    path = Path.cwd() / name  # cli_env runs in a clean folder
    path.write_text(text)
    return path


async def test_an_order_whose_cost_rose_above_what_it_was_paid_is_never_sent(stack) -> None:
    with_rates(stack, RUB=str(RUB))
    key = await rub_customer(stack)
    await stack.pool.execute(
        "INSERT INTO provider_balances (provider, balance, currency, low, paused)"
        " VALUES ('sim', 0, 'USD', true, true)"
    )
    await stack.dispatcher.scan_once()  # the provider is paused: the order waits
    order_id = await add(stack, key, "https://ig.com/dearer")  # 12.27273 RUB = 0.135 USD
    deferred = "SELECT dispatch_after > now() + interval '10 seconds' FROM orders WHERE id = $1"
    await poll_until(lambda: stack.pool.fetchval(deferred, order_id))
    # The upstream cost rises to 1.40 per 1000 and the catalog re-prices the base rate to 2.10:
    # the base rate still covers the cost, but this order was paid 0.135 USD for a 0.14 cost.
    await stack.pool.execute("UPDATE service_upstreams SET cost_rate = 1.40")
    await stack.pool.execute("UPDATE services SET rate = 2.10")
    await stack.pool.execute("UPDATE provider_balances SET paused = false")
    await stack.pool.execute("UPDATE orders SET dispatch_after = now()")
    await stack.settle()
    order = await stack.order(order_id)
    assert (order["status"], order["refunded"]) == ("Canceled", order["charge"])
    assert stack.sim.state.adds_for_link("https://ig.com/dearer") == 0
    await money_holds(stack.pool)
