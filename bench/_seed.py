"""The bench database: created fresh, migrated, seeded in seconds, dropped at the end.

The money invariant holds in it as everywhere (balance = sum of the customer's ledger), at the
cost of one ledger row per seeded order (about 8 s of the run).

Two sets of customers: the price list's, who place the orders and query them, and as many
more spread over PRICE_GROUPS price groups (one in OVERRIDE_EVERY with prices of its own),
who only ask for `services`.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import ROUND_UP, Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import yaml

from reseller import api_keys, catalog, db, migrations
from reseller import config as config_file
from reseller.catalog import customer_prices
from reseller.catalog import sync as catalog_sync
from reseller.catalog.customer_prices import PriceOverride
from reseller.catalog.model import Offer
from reseller.config import Config
from reseller.embedded_pg import EmbeddedPostgres

# Requests per minute for bench customers: the per-customer limiter must never answer 429 here.
RATE_LIMIT = 1_000_000_000
OPENING_BALANCE = Decimal(1_000_000_000)  # enough for every order a run can place
QUANTITY = 1000
STATUS_IDS = 100  # order IDs per `status` request, the API's maximum
PROVIDER = "bench"
CATEGORY = "Instagram Followers"  # services are spread over 25 categories: "… 0" to "… 24"
# The provider's cost as a share of the list rate: room for groups' discounts, which are only
# sold at or above a known cost (a static price before its first sync allows none).
COST_SHARE = Decimal("0.75")
PRICE_GROUPS = 100
OVERRIDE_EVERY = 10  # one grouped customer in ten has prices of its own, on 1 to 3 services


@dataclass(frozen=True, slots=True)
class Sizes:
    services: int
    customers: int
    orders: int


def config(service_count: int, pool_size: int) -> Config:
    """The app's config: a pool of `pool_size`, `service_count` services described in full, and
    PRICE_GROUPS price groups; written as an operator writes the file and read by the reseller's
    own reader, so it passes the same checks (group names, known service IDs, one rule each)."""
    document = {
        "database": {"pool_min": pool_size, "pool_max": pool_size},
        "providers": [{"name": PROVIDER, "url": "http://127.0.0.1:9/", "key_env": "BENCH_KEY"}],
        "services": [_service(n) for n in range(1, service_count + 1)],
        "pricing": {"groups": _groups(service_count)},
    }
    return config_file.parse(yaml.dump(document, Dumper=_Dumper, sort_keys=False))


class _Dumper(yaml.SafeDumper):
    """Decimals written as YAML numbers, which the reader takes back as Decimal."""


_Dumper.add_representer(
    Decimal, lambda dumper, d: dumper.represent_scalar("tag:yaml.org,2002:float", f"{d}")
)


def _service(n: int) -> dict[str, Any]:
    """A service shaped like a real panel's (long names, categories, flags), sold at its list
    rate as written."""
    return {
        "id": n,
        "upstreams": [{"provider": PROVIDER, "service": _upstream_id(n)}],
        "name": f"Instagram Followers [Real, 30 days refill] #{n} - max 100K/day",
        "category": f"{CATEGORY} {n % 25}",
        "type": "Default",
        "rate": _list_rate(n),
        "min": 10,
        "max": 100_000,
        "refill": n % 2 == 0,
        "cancel": n % 3 == 0,
        "dripfeed": n % 5 == 0,
    }


def _upstream_id(n: int) -> str:
    return str(10_000 + n)


def _list_rate(n: int) -> Decimal:
    return Decimal("0.85") + Decimal(n) / 1000


def _cost(n: int) -> Decimal:
    return (_list_rate(n) * COST_SHARE).quantize(Decimal("0.00001"), rounding=ROUND_UP)


def _offers(service_count: int) -> list[Offer]:
    """What the provider offers, as a sync would have stored it: the costs groups are checked
    against. Quantities and flags allow the config's, so the list's answer stays as written."""
    return [
        Offer(
            id=_upstream_id(n),
            name=f"Followers {n}",
            type="Default",
            category="Instagram",
            rate=_cost(n),
            min=10,
            max=100_000,
            refill=True,
            cancel=True,
            dripfeed=True,
        )
        for n in range(1, service_count + 1)
    ]


def _groups(service_count: int) -> dict[str, dict[str, Any]]:
    """Groups as varied as a real panel's: a discount, a markup or the list's rates; half with
    category rules (a tenth of all with one deep enough to take categories below cost, off
    sale); a quarter hiding categories and services, a few seeing only some categories. Each
    sells one service at a fixed rate of its own, between cost and the list rate: no group's
    answer is the list's."""

    def service(k: int) -> int:
        return 1 + k % service_count

    groups: dict[str, dict[str, Any]] = {}
    for i in range(PRICE_GROUPS):
        group: dict[str, Any] = {}
        if i % 3 == 0:
            group["discount_percent"] = Decimal(2 + i % 15)  # at most 16 %: above cost
        elif i % 3 == 1:
            group["markup_percent"] = Decimal(5 + i % 20)
        if i % 2 == 0:
            group["categories"] = {
                f"{CATEGORY} {i % 25}": {"markup_percent": Decimal(10)},
                f"{CATEGORY} 2*": {"discount_percent": Decimal(30 if i % 10 == 0 else 8)},
            }
        fixed = service(i * 37)
        # (i + 1) / 1000 is under the list's margin over cost (at least 0.21) for every service
        group["services"] = {fixed: {"rate": _cost(fixed) + Decimal(i + 1) / 1000}}
        if i % 4 == 1:
            group["deny"] = [f"{CATEGORY} 1*", service(i * 11 + 5), service(i * 13 + 7)]
        elif i % 10 == 7:
            group["allow"] = [f"{CATEGORY} {c}" for c in range(i % 5, 25, 5)]
        groups[f"{('wholesale', 'agency', 'vip', 'partner')[i % 4]}-{i:02d}"] = group
    return groups


def _with_database(dsn: str, name: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path=f"/{name}"))


async def create_database(server_dsn: str) -> str:
    """A new, migrated database on the server; returns its DSN."""
    name = f"reseller_bench_{secrets.token_hex(4)}"
    async with db.connection(server_dsn) as admin:
        await admin.execute(f'CREATE DATABASE "{name}"')  # the name is ours, not input
    dsn = _with_database(server_dsn, name)
    async with db.connection(dsn) as conn:
        await migrations.migrate(conn)
    return dsn


async def drop_database(server_dsn: str, dsn: str) -> None:
    name = urlsplit(dsn).path.lstrip("/")
    async with db.connection(server_dsn) as admin:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def seed(dsn: str, sizes: Sizes, folder: Path) -> dict[str, Path]:
    """Fill the database; returns each workload's file of form bodies, one per line."""
    pool = await db.create_pool(dsn, min_size=1, max_size=1)
    app_config = config(sizes.services, pool_size=1)
    try:
        await catalog_sync.rebuild(pool, app_config, fetched={PROVIDER: _offers(sizes.services)})
        services = await catalog.load(pool)  # with the costs the groups are checked against
        async with pool.session() as conn:
            keys = await _customers(
                conn, [(f"bench-{n:05d}", None) for n in range(sizes.customers)]
            )
            await _orders(conn, sizes)  # before the grouped customers: theirs would be none
            grouped = await _grouped_customers(conn, sizes.customers, app_config, services)
            await conn.execute("ANALYZE")
            bodies = {
                "services": [_form(key=k, action="services") for k in keys.values()],
                "services_groups": [_form(key=k, action="services") for k in grouped],
                "status": await _status_bodies(conn, keys),
                "add_spread": _add_bodies(list(keys.values()), sizes.services),
                "add_hot": _add_bodies([keys[min(keys)]] * len(keys), sizes.services),
            }
    finally:
        await pool.close()
    paths = {name: folder / f"{name}.txt" for name in bodies}
    for name, lines in bodies.items():
        paths[name].write_text("\n".join(lines) + "\n")
    return paths


async def _customers(
    conn: db.Connection, named: Sequence[tuple[str, str | None]]
) -> dict[int, str]:
    """A customer per (name, price group), each with a topped-up balance (and its ledger entry);
    returns their API keys by customer ID."""
    keys = {api_keys.key_hash(key): key for key in (api_keys.new_key() for _ in named)}
    await conn.copy_records_to_table(
        "customers",
        columns=[
            "name",
            "api_key_hash",
            "currency",
            "rate_limit_per_minute",
            "price_group",
            "balance",
        ],
        records=[
            (name, h, "USD", RATE_LIMIT, group, OPENING_BALANCE)
            for (name, group), h in zip(named, keys, strict=True)
        ],
    )
    rows = await conn.fetch(
        "SELECT id, api_key_hash FROM customers WHERE api_key_hash = ANY($1)", list(keys)
    )
    await conn.execute(
        "INSERT INTO ledger (customer_id, amount, kind, reason)"
        " SELECT id, $1, 'topup', 'bench' FROM unnest($2::bigint[]) AS id",
        OPENING_BALANCE,
        [r["id"] for r in rows],
    )
    return {r["id"]: keys[r["api_key_hash"]] for r in rows}


async def _grouped_customers(
    conn: db.Connection, count: int, app_config: Config, services: catalog.Catalog
) -> list[str]:
    """`count` customers spread in turn over the config's groups, one in OVERRIDE_EVERY of each
    group's with 1 to 3 prices of its own; returns their API keys in that order (every group in
    turn)."""
    names = list(app_config.pricing.groups)
    named = [(f"bench-g{n:05d}", names[n % len(names)]) for n in range(count)]
    keys = await _customers(conn, named)
    by_name = {r["name"]: r["id"] for r in await conn.fetch("SELECT id, name FROM customers")}
    prices = [
        (by_name[name], o.service_id, o.rate, o.discount_percent)
        for n, (name, group) in enumerate(named)
        # one of each group's customers, not the same one in every group
        if (n % len(names) + n // len(names)) % OVERRIDE_EVERY == 0
        for o in _overrides(n, services, app_config, group)
    ]
    # As `customers price` stores them; the seed checks them as it does (on sale, not hidden).
    await conn.executemany(
        "INSERT INTO customer_prices (customer_id, service_id, rate, discount_percent, reason)"
        " VALUES ($1, $2, $3, $4, 'bench')",
        prices,
    )
    return [keys[by_name[name]] for name, _ in named]


def _overrides(
    n: int, services: catalog.Catalog, app_config: Config, group_name: str
) -> list[PriceOverride]:
    """Customer `n`'s 1 to 3 prices of its own: fixed rates just above cost, on services its
    group lets it see, so each is on sale to it (`off_sale` is the check `customers price`
    makes)."""
    group = app_config.pricing.groups[group_name]
    wanted = 1 + n % 3
    found: list[PriceOverride] = []
    for k in range(len(services)):
        service = services.get(1 + (n * 7 + k * 101) % len(services))
        if service is None or service.cost is None or service.id in {o.service_id for o in found}:
            continue
        rate = service.cost + Decimal(1 + (n + k) % 9) / 1000
        if customer_prices.off_sale(service, group, rate) is None:
            found.append(PriceOverride(service.id, rate=rate))
        if len(found) == wanted:
            return found
    raise RuntimeError(f"no service on sale to group {group_name} for a customer's own price")


# Orders spread evenly over customers and services, each customer's in every status, each with
# its charge in the ledger; balances are then set from the ledger, so the invariant holds by
# construction.
_SEED_ORDERS = """
INSERT INTO orders (customer_id, service_id, link, quantity, charge, currency, status,
                    remains, start_count, dispatch_state)
SELECT c.ids[1 + g % c.n], 1 + g % $2, 'https://instagram.com/p/seed' || g, $3, $4, 'USD',
       (ARRAY['Pending', 'In progress', 'Completed', 'Partial', 'Canceled'])[1 + g / c.n % 5],
       CASE WHEN g / c.n % 5 = 0 THEN NULL ELSE g % $3 END, g % 100000, 'placed'
FROM generate_series(1, $1) AS g,
     (SELECT array_agg(id ORDER BY id) AS ids, count(*)::int AS n FROM customers) AS c
"""
_SEED_CHARGES = """
INSERT INTO ledger (customer_id, amount, kind, order_id)
SELECT customer_id, -charge, 'charge', id FROM orders
"""
_BALANCES_FROM_LEDGER = """
UPDATE customers SET balance = l.total
FROM (SELECT customer_id, sum(amount) AS total FROM ledger GROUP BY customer_id) AS l
WHERE l.customer_id = customers.id
"""


async def _orders(conn: db.Connection, sizes: Sizes) -> None:
    async with conn.transaction():
        if await conn.fetchval("SELECT current_setting('is_superuser')") == "on":
            # Foreign-key checks take over half of the seeding time (20 s of 40 s on 2 cores),
            # and every reference here is taken from existing rows.
            await conn.execute("SET LOCAL session_replication_role = replica")
        await conn.execute(_SEED_ORDERS, sizes.orders, sizes.services, QUANTITY, Decimal("0.95"))
        await conn.execute(_SEED_CHARGES)
        await conn.execute(_BALANCES_FROM_LEDGER)


async def _status_bodies(conn: db.Connection, keys: dict[int, str]) -> list[str]:
    """Per customer, STATUS_IDS of its orders picked at random across the whole table."""
    rows = await conn.fetch(
        "SELECT customer_id, (array_agg(id ORDER BY random()))[1:$1] AS ids"
        " FROM orders GROUP BY customer_id",
        STATUS_IDS,
    )
    return [
        _form(key=keys[r["customer_id"]], action="status", orders=",".join(map(str, r["ids"])))
        for r in rows
    ]


def _add_bodies(keys: list[str], service_count: int) -> list[str]:
    return [
        _form(
            key=key,
            action="add",
            service=1 + n % service_count,
            link=f"https://instagram.com/p/bench{n}",
            quantity=QUANTITY,
        )
        for n, key in enumerate(keys)
    ]


def _form(**fields: object) -> str:
    return urlencode(fields)


@contextmanager
def seeded_database(
    sizes: Sizes, folder: Path, *, durable: bool = False
) -> Iterator[tuple[str, dict[str, Path], str]]:
    """A fresh database seeded with `sizes` on `database_server`: its DSN, the workloads'
    bodies (see `seed`) and where it runs; dropped at the end."""
    with database_server(folder / "pg", durable=durable) as (server_dsn, label):
        dsn = asyncio.run(create_database(server_dsn))
        try:
            yield dsn, asyncio.run(seed(dsn, sizes, folder)), label
        finally:
            asyncio.run(drop_database(server_dsn, dsn))


@contextmanager
def database_server(folder: Path, *, durable: bool = False) -> Iterator[tuple[str, str]]:
    """$RESELLER_DSN's server when set, else an embedded one: fsync off, or with `durable` as
    PostgreSQL ships (fsync and synchronous_commit on, each commit waits for its WAL flush);
    and its label."""
    if dsn := os.environ.get("RESELLER_DSN"):
        yield dsn, "$RESELLER_DSN's server"
        return
    with EmbeddedPostgres(folder, fast=not durable) as embedded:
        yield embedded.dsn, f"embedded PostgreSQL ({'durable' if durable else 'fsync off'})"
