"""Price groups (`pricing.groups`): a group's customers see and pay its rates — a discount or
markup on the price list, per-category and per-service overrides, most specific first — only
for the services it lets them see, never below the upstream cost; everyone else keeps the
price list. Real PostgreSQL, the real app over HTTP, the simulated panel as the provider."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest_asyncio
from aiohttp.test_utils import TestServer
from conftest import ApiClient
from structlog.testing import capture_logs
from support import poll_until
from test_cli import run

from reseller import catalog, config, customers
from reseller.api.app import create_app
from reseller.audit import Actor
from reseller.catalog import sync as catalog_sync
from reseller.db import Q
from reseller.upstream import Upstreams

# Sim costs: 1 → 0.90 (Instagram Followers), 2 → 0.25 (Instagram Likes), 3 → 2.10 (YouTube),
# 9 → 0.75 (Telegram). At 50 % the price list is 1.35, 0.38, 3.00 (fixed) and 1.13.
YAML = """
providers:
  - {{name: sim, url: "{url}", key_env: SIM_TEST_KEY}}
currency_rates: {{EUR: 1.25}}
pricing:
  markup_percent: 50
  rounding: {{decimals: 2, mode: up}}
  groups:
    wholesale:
      discount_percent: 20
      categories: {{"instagram l*": {{markup_percent: 10}}, "Instagram*": {{rate: 5}}}}
      services: {{1: {{discount_percent: 10}}, 3: {{rate: 2.50}}}}
    deep: {{discount_percent: 35}}
    partners: {{allow: [1, "Tele*"]}}
    picky: {{deny: [1]}}
services:
  - {{id: 1, provider: sim, upstream_service: 1}}
  - {{id: 2, provider: sim, upstream_service: 2}}
  - {{id: 3, provider: sim, upstream_service: 3, rate: 3.00}}
  - {{id: 9, provider: sim, upstream_service: 9}}
"""
ADMIN = Actor("admin")


@dataclass
class Shop:
    api: ApiClient
    pool: object
    sim: object
    cfg: config.Config

    async def customer(self, name: str, group: str | None, currency: str = "USD") -> str:
        _, key = await customers.create(self.pool, name, balance=Decimal(100), currency=currency)
        if group is not None:
            await customers.update(self.pool, name, by=ADMIN, price_group=group)
        return key

    async def rates(self, key: str) -> dict[int, str]:
        answer = await self.api.call(key=key, action="services")
        return {s["service"]: s["rate"] for s in answer}

    async def add(self, key: str, service: int, quantity: int = 1000):
        return await self.api.call(
            key=key, action="add", service=service, link="https://ig.com/p", quantity=quantity
        )

    async def sync(self) -> None:
        upstreams = Upstreams(self.cfg.providers)
        try:
            await catalog_sync.sync(self.pool, self.cfg, upstreams)
        finally:
            await upstreams.close()


@contextlib.asynccontextmanager
async def open_shop(pool, sim) -> AsyncIterator[Shop]:
    """The app on YAML's catalog, synced from the simulated panel, served over HTTP."""
    cfg = config.parse(YAML.format(url=sim.url))
    server = TestServer(create_app(config.LiveConfig(cfg), pool=pool), host="127.0.0.1")
    s = Shop(None, pool, sim, cfg)  # type: ignore[arg-type]
    await s.sync()
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            s.api = ApiClient(session, str(server.make_url("")).rstrip("/"))
            yield s
    finally:
        await server.close()


@pytest_asyncio.fixture(loop_scope="session")
async def shop(pool, sim) -> AsyncIterator[Shop]:
    async with open_shop(pool, sim) as s:
        yield s


async def charge_of(shop: Shop, order_id: int) -> tuple[Decimal, str]:
    row = await shop.pool.fetchrow("SELECT charge, currency FROM orders WHERE id = $1", order_id)
    return row["charge"], row["currency"]


async def test_a_discount_group_sees_and_pays_its_rates_and_others_the_price_list(shop) -> None:
    everyone = await shop.customer("everyone", None)
    wholesale = await shop.customer("big", "wholesale")
    assert await shop.rates(everyone) == {1: "1.35", 2: "0.38", 3: "3.00", 9: "1.13"}
    # 1: its own 10 % (1.215, rounded up) over its category's rate; 2: the first matching
    # glob, "instagram l*" (0.38 + 10 % = 0.418 up), not "Instagram*"; 3: its own fixed rate;
    # 9: no rule of its own, the group's 20 % (0.904 up).
    assert await shop.rates(wholesale) == {1: "1.22", 2: "0.42", 3: "2.50", 9: "0.91"}
    order = (await shop.add(wholesale, 2))["order"]
    assert await charge_of(shop, order) == (Decimal("0.42"), "USD")
    order = (await shop.add(everyone, 2))["order"]
    assert await charge_of(shop, order) == (Decimal("0.38"), "USD")
    balance = await shop.api.call(key=wholesale, action="balance")
    assert balance == {"balance": "99.58", "currency": "USD"}


async def test_a_group_customer_in_another_currency_pays_the_group_rate_converted(shop) -> None:
    euro = await shop.customer("euro", "wholesale", currency="EUR")
    # 0.42 USD at 1.25 USD per EUR is 0.336 EUR, rounded up: 0.34.
    assert (await shop.rates(euro))[2] == "0.34"
    order = (await shop.add(euro, 2, quantity=2000))["order"]
    assert await charge_of(shop, order) == (Decimal("0.68"), "EUR")


async def test_hidden_services_answer_like_unknown_ones_for_the_group_only(shop) -> None:
    partner = await shop.customer("partner", "partners")  # allow: [1, "Tele*"]
    picky = await shop.customer("picky", "picky")  # deny: [1]
    everyone = await shop.customer("everyone", None)
    unknown = await shop.add(partner, 999)
    assert unknown == {"error": "Invalid service ID"}
    assert sorted(await shop.rates(partner)) == [1, 9]
    assert await shop.add(partner, 2) == unknown
    assert sorted(await shop.rates(picky)) == [2, 3, 9]
    assert await shop.add(picky, 1) == unknown
    assert "order" in await shop.add(everyone, 1)
    assert "order" in await shop.add(partner, 1)
    assert await shop.pool.fetchval("SELECT count(*) FROM orders") == 2


async def test_a_group_rate_below_cost_takes_the_service_off_sale_for_that_group_only(
    shop,
) -> None:
    deep = await shop.customer("deep", "deep")  # 35 % off
    everyone = await shop.customer("everyone", None)
    # 1: 0.88 < 0.90; 3: 1.95 < 2.10; 9: 0.74 < 0.75; 2: 0.25, exactly its cost, still sells.
    assert await shop.rates(deep) == {2: "0.25"}
    assert await shop.add(deep, 1) == {"error": "Invalid service ID"}
    assert "order" in await shop.add(everyone, 1)


async def test_a_cost_rise_takes_a_group_rate_off_sale_and_a_fall_puts_it_back(shop) -> None:
    wholesale = await shop.customer("big", "wholesale")  # 3 at a fixed 2.50
    everyone = await shop.customer("everyone", None)  # 3 at a fixed 3.00
    before = await shop.pool.fetchval("SELECT cost FROM services WHERE id = 3")
    assert before == Decimal("2.10")
    shop.sim.state.set_rate(3, Decimal("2.60"))
    await shop.sync()  # the price list's rate stays 3.00: only the cost moved
    assert await shop.pool.fetchval("SELECT cost FROM services WHERE id = 3") == Decimal("2.60")

    async def off_for_the_group() -> bool:
        return 3 not in await shop.rates(wholesale)

    await poll_until(off_for_the_group, within=10)
    assert await shop.add(wholesale, 3) == {"error": "Invalid service ID"}
    assert (await shop.rates(everyone))[3] == "3.00"
    assert "order" in await shop.add(everyone, 3)
    shop.sim.state.set_rate(3, Decimal("2.10"))
    await shop.sync()

    async def back_for_the_group() -> bool:
        return (await shop.rates(wholesale)).get(3) == "2.50"

    await poll_until(back_for_the_group, within=10)
    order = (await shop.add(wholesale, 3))["order"]
    assert await charge_of(shop, order) == (Decimal("2.50"), "USD")


async def test_a_cost_change_alone_changes_the_catalog_version(shop) -> None:
    version = await shop.pool.fetchval(Q.catalog_version)
    shop.sim.state.set_rate(3, Decimal("2.20"))
    await shop.sync()
    assert await shop.pool.fetchval(Q.catalog_version) != version
    loaded = (await catalog.load(shop.pool)).get(3)
    assert (loaded.rate, loaded.cost) == (Decimal("3.00"), Decimal("2.20"))
    key = await shop.customer("c", None)
    assert "cost" not in (await shop.api.call(key=key, action="services"))[0]


async def test_customers_set_group_changes_the_next_answer_and_is_audited(
    shop, cli_env, tmp_path: Path, capsys
) -> None:
    (tmp_path / "config.yaml").write_text(YAML.format(url=shop.sim.url))
    key = await shop.customer("acme", None)
    assert (await shop.rates(key))[9] == "1.13"  # its key is cached now
    code, out, _ = await run(capsys, "customers", "set", "acme", "--group", "wholesale")
    assert code == 0
    assert out.splitlines()[-1] == "acme: price group wholesale"

    async def priced(rate: str):
        async def check() -> bool:
            return (await shop.rates(key))[9] == rate

        return check

    await poll_until(await priced("0.91"), within=5)
    _, out, _ = await run(capsys, "customers", "list", "--csv")
    assert out.splitlines()[1].endswith(",wholesale,0.00")
    code, out, _ = await run(capsys, "customers", "set", "acme", "--group", "none")
    assert (code, out.splitlines()[-1]) == (0, "acme: price group none")
    await poll_until(await priced("1.13"), within=5)
    rows = await shop.pool.fetch(
        "SELECT action, detail FROM audit_log WHERE action = 'customer-set' ORDER BY id"
    )
    assert [r["detail"] for r in rows] == [
        {"group": {"from": "none", "to": "wholesale"}},
        {"group": {"from": "wholesale", "to": "none"}},
    ]


async def test_customers_set_refuses_a_group_not_in_the_config_in_one_line(
    shop, cli_env, tmp_path: Path, capsys
) -> None:
    (tmp_path / "config.yaml").write_text(YAML.format(url=shop.sim.url))
    await shop.customer("acme", None)
    code, _, err = await run(capsys, "customers", "set", "acme", "--group", "gold")
    assert (code, err) == (
        2,
        "reseller: refused: no price group 'gold' in pricing.groups of the config; nothing"
        " changed\n",
    )
    assert (await customers.get(shop.pool, "acme")).price_group is None


async def test_a_group_removed_from_the_config_prices_its_customers_by_the_price_list(
    pool, sim
) -> None:
    cfg = config.parse(YAML.format(url=sim.url))
    live = config.LiveConfig(cfg)
    server = TestServer(create_app(live, pool=pool), host="127.0.0.1")
    shop = Shop(None, pool, sim, cfg)  # type: ignore[arg-type]
    await shop.sync()
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            shop.api = ApiClient(session, str(server.make_url("")).rstrip("/"))
            key = await shop.customer("acme", "deep")
            assert await shop.rates(key) == {2: "0.25"}
            live.current = config.parse(
                YAML.format(url=sim.url).replace("    deep: {discount_percent: 35}\n", "")
            )
            with capture_logs() as logs:
                assert (await shop.rates(key))[1] == "1.35"
                assert (await shop.rates(key))[1] == "1.35"
    finally:
        await server.close()
    warnings = [e for e in logs if e["event"] == "price_group_not_in_config"]
    assert [(e["log_level"], e["group"]) for e in warnings] == [("warning", "deep")]
