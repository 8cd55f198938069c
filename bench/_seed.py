"""The bench database: created fresh, migrated, seeded in seconds, dropped at the end.

The money invariant holds in it as everywhere (balance = sum of the customer's ledger), at the
cost of one ledger row per seeded order (about 8 s of the run).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

from reseller import api_keys, db, migrations
from reseller.catalog import sync as catalog_sync
from reseller.config import Config, DatabaseConfig, ProviderConfig
from reseller.config.catalog import Candidate, ServiceConfig
from reseller.embedded_pg import EmbeddedPostgres

# Requests per minute for bench customers: the per-customer limiter must never answer 429 here.
RATE_LIMIT = 1_000_000_000
OPENING_BALANCE = Decimal(1_000_000_000)  # enough for every order a run can place
QUANTITY = 1000
STATUS_IDS = 100  # order IDs per `status` request, the API's maximum


@dataclass(frozen=True, slots=True)
class Sizes:
    services: int
    customers: int
    orders: int


def config(service_count: int, pool_size: int) -> Config:
    """The app's config: a pool of `pool_size`, and `service_count` services described in full,
    which the catalog sells as written while their (never reached) provider is not synced."""
    return Config(
        database=DatabaseConfig(pool_min=pool_size, pool_max=pool_size),
        providers=(ProviderConfig(name="bench", url="http://127.0.0.1:9/", key_env="BENCH_KEY"),),
        services=_services(service_count),
    )


def _services(count: int) -> tuple[ServiceConfig, ...]:
    """Services shaped like a real panel's (long names, categories, flags)."""
    return tuple(
        ServiceConfig(
            id=n,
            upstreams=(Candidate("bench", str(10_000 + n)),),
            name=f"Instagram Followers [Real, 30 days refill] #{n} - max 100K/day",
            category=f"Instagram Followers {n % 25}",
            type="Default",
            rate=Decimal("0.85") + Decimal(n) / 1000,
            min=10,
            max=100_000,
            refill=n % 2 == 0,
            cancel=n % 3 == 0,
            dripfeed=n % 5 == 0,
        )
        for n in range(1, count + 1)
    )


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
    try:
        await catalog_sync.rebuild(pool, config(sizes.services, pool_size=1))
        async with pool.session() as conn:
            keys = await _customers(conn, sizes.customers)
            await _orders(conn, sizes)
            await conn.execute("ANALYZE")
            bodies = {
                "services": [_form(key=k, action="services") for k in keys.values()],
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


async def _customers(conn: db.Connection, count: int) -> dict[int, str]:
    """`count` customers with a topped-up balance; returns their API keys by customer ID."""
    keys = {api_keys.key_hash(key): key for key in (api_keys.new_key() for _ in range(count))}
    await conn.copy_records_to_table(
        "customers",
        columns=["name", "api_key_hash", "currency", "rate_limit_per_minute"],
        records=[(f"bench-{n:05d}", h, "USD", RATE_LIMIT) for n, h in enumerate(keys)],
    )
    await conn.execute(
        "INSERT INTO ledger (customer_id, amount, kind, reason)"
        " SELECT id, $1, 'topup', 'bench' FROM customers",
        OPENING_BALANCE,
    )
    rows = await conn.fetch("SELECT id, api_key_hash FROM customers")
    return {r["id"]: keys[r["api_key_hash"]] for r in rows}


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
def database_server(folder: Path) -> Iterator[tuple[str, str]]:
    """$RESELLER_DSN's server when set, else an embedded one (fsync off); and its label."""
    if dsn := os.environ.get("RESELLER_DSN"):
        yield dsn, "$RESELLER_DSN's server"
        return
    with EmbeddedPostgres(folder, fast=True) as embedded:
        yield embedded.dsn, "embedded PostgreSQL (fsync off)"
