"""Group commit: one customer's concurrent adds go together in one transaction, each answered
after that commit, never overdrawing. Real app over HTTP, real PostgreSQL. A test holds the
customer's row lock from a connection of its own to make adds queue behind a commit in flight,
the way a slow WAL flush makes them queue on a durable server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from decimal import Decimal

import aiohttp
import orjson
import pytest_asyncio
from aiohttp.test_utils import TestServer
from conftest import CATALOG_YAML, ApiClient
from support import money_holds, poll_until
from test_api_v2 import new_customer

from reseller import catalog, config, customers, db
from reseller.api.app import create_app
from reseller.orders import place
from reseller.service_types.rules import OrderRequest

LINK = "https://a.com/p"


async def add(api: ApiClient, key: str, quantity: int = 1000) -> dict:
    """An add of service 1 (0.90 per 1 000): the answer as the client reads it."""
    _, _, body = await api.raw(key=key, action="add", service=1, link=LINK, quantity=quantity)
    return orjson.loads(body)


@asynccontextmanager
async def row_locked(dsn: str, name: str = "acme") -> AsyncIterator[None]:
    """The customer's row locked by another transaction until the block ends."""
    async with db.connection(dsn) as conn, conn.transaction():
        await conn.execute("SELECT 1 FROM customers WHERE name = $1 FOR UPDATE", name)
        yield


async def waiting_on_lock(pool: db.Database, statement: str) -> int:
    """The backend of the add statement (`place_order` or `place_orders`, told apart by their
    text) that waits on the row lock."""

    async def backend() -> int | None:
        return await pool.fetchval(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND query LIKE $1",
            statement,
        )

    return await poll_until(backend, within=5, interval=0.01)


ONE_ADD = "%WITH debit AS (%"  # place_order
BATCH = "%WITH RECURSIVE wanted AS (%"  # place_orders


async def queued(api: ApiClient, key: str, quantities: list[int]) -> list[asyncio.Task[dict]]:
    """Adds sent one after another, each given time to reach the app first: their order of
    arrival is the list's."""
    tasks = []
    for quantity in quantities:
        tasks.append(asyncio.create_task(add(api, key, quantity)))
        await asyncio.sleep(0.05)
    return tasks


async def batch_metric(api: ApiClient) -> tuple[float, float]:
    """`reseller_add_batch_size` from /metrics: (transactions, adds) so far."""
    async with api.session.get(f"{api.url}/metrics") as response:
        text = await response.text()
    samples = dict(
        line.rsplit(" ", 1) for line in text.splitlines() if line.startswith("reseller_add_batch")
    )
    return (
        float(samples["reseller_add_batch_size_count"]),
        float(samples["reseller_add_batch_size_sum"]),
    )


async def test_adds_that_arrive_during_a_commit_are_committed_together_in_one_transaction(
    api, pool, dsn
) -> None:
    key = await new_customer(pool, balance="100")
    transactions, adds = await batch_metric(api)
    async with row_locked(dsn):
        first = asyncio.create_task(add(api, key))
        await waiting_on_lock(pool, ONE_ADD)
        rest = await queued(api, key, [1000] * 19)
        await asyncio.sleep(0.1)
        assert not any(task.done() for task in [first, *rest])  # none answered before its commit
    answers = [await first, *await asyncio.gather(*rest)]
    assert all("order" in a for a in answers), answers
    assert len({a["order"] for a in answers}) == 20
    # Two transactions: the lone add, then the 19 that queued behind it.
    assert await pool.fetchval("SELECT count(DISTINCT xmin::text) FROM orders") == 2
    assert await batch_metric(api) == (transactions + 2, adds + 20)
    assert await api.call(key=key, action="balance") == {"balance": "82.00", "currency": "USD"}
    await money_holds(pool)


async def test_an_order_the_balance_cannot_cover_is_refused_and_smaller_ones_after_it_accepted(
    api, pool, dsn
) -> None:
    key = await new_customer(pool, balance="5")
    async with row_locked(dsn):
        first = asyncio.create_task(add(api, key, 1000))  # 0.90: 4.10 left
        await waiting_on_lock(pool, ONE_ADD)
        # 9.00 no, 0.90 (3.20 left), 1.80 (1.40 left), 4.50 no, 0.90 (0.50 left)
        rest = await queued(api, key, [10000, 1000, 2000, 5000, 1000])
    answers = [await first, *await asyncio.gather(*rest)]
    refused = {"error": "Insufficient balance"}
    assert [a == refused for a in answers] == [False, True, False, False, True, False]
    accepted = [a["order"] for a in answers if a != refused]
    assert accepted == sorted(accepted)  # IDs in arrival order
    charges = await pool.fetch("SELECT id, charge FROM orders ORDER BY id")
    assert [(r["id"], r["charge"]) for r in charges] == list(
        zip(accepted, map(Decimal, ["0.9", "0.9", "1.8", "0.9"]), strict=True)
    )
    assert await api.call(key=key, action="balance") == {"balance": "0.50", "currency": "USD"}
    await money_holds(pool)


async def test_a_batch_whose_connection_is_killed_leaves_nothing_and_answers_each_add_an_error(
    api, pool, dsn
) -> None:
    key = await new_customer(pool, balance="100")
    unavailable = {"error": "Service temporarily unavailable, try again shortly"}
    async with row_locked(dsn):
        first = asyncio.create_task(add(api, key))
        lone = await waiting_on_lock(pool, ONE_ADD)
        rest = await queued(api, key, [1000] * 5)
        await pool.execute("SELECT pg_terminate_backend($1)", lone)
        assert await first == unavailable
        batch = await waiting_on_lock(pool, BATCH)  # the five, in one statement
        await pool.execute("SELECT pg_terminate_backend($1)", batch)
        assert await asyncio.gather(*rest) == [unavailable] * 5
    assert await pool.fetchval("SELECT count(*) FROM orders") == 0
    assert await pool.fetchval("SELECT count(*) FROM ledger WHERE kind = 'charge'") == 0
    assert await api.call(key=key, action="balance") == {"balance": "100.00", "currency": "USD"}
    # The batcher goes on: later adds, alone and together, are placed.
    answers = await asyncio.gather(*(add(api, key) for _ in range(10)))
    assert all("order" in a for a in answers), answers
    assert await api.call(key=key, action="balance") == {"balance": "91.00", "currency": "USD"}
    await money_holds(pool)


@pytest_asyncio.fixture(loop_scope="session")
async def second_api(dsn: str, api) -> AsyncIterator[ApiClient]:
    """Another app with a pool of its own, as another `reseller serve` process would be: its
    batches and the first app's only meet at the row lock."""
    other = await db.create_pool(dsn, min_size=2, max_size=20)
    settings = config.parse(CATALOG_YAML + "api: {failed_auth_delay_seconds: 0}\n")
    server = TestServer(create_app(settings, pool=other), host="127.0.0.1")
    await server.start_server()
    async with aiohttp.ClientSession() as session:
        yield ApiClient(session, str(server.make_url("")).rstrip("/"))
    await server.close()
    await other.close()


async def test_two_apps_adding_for_one_customer_at_once_accept_exactly_what_the_balance_covers(
    api, second_api, pool
) -> None:
    key = await new_customer(pool, balance="90")  # 100 orders of 0.90
    answers = await asyncio.gather(
        *(add(client, key) for _ in range(150) for client in (api, second_api))
    )
    accepted = [a for a in answers if "order" in a]
    assert len(accepted) == 100
    assert all(a == {"error": "Insufficient balance"} for a in answers if "order" not in a)
    assert await pool.fetchval("SELECT count(DISTINCT xmin::text) FROM orders") < 100
    assert await api.call(key=key, action="balance") == {"balance": "0.00", "currency": "USD"}
    await money_holds(pool)


ORDER_COLUMNS = (
    "customer_id, service_id, link, quantity, runs, run_interval, fields, charge, currency,"
    " currency_rate, list_charge, link_key, drip_emulated, dispatch_state, status"
)


async def test_orders_placed_together_are_stored_as_a_lone_add_stores_them(api, pool) -> None:
    await customers.create(pool, "acme", balance=Decimal(100))
    customer = await customers.get(pool, "acme")
    followers = (await catalog.load(pool)).get(1)
    assert followers is not None
    emulated = replace(followers, dripfeed_emulated=True)
    drip_fed = OrderRequest(LINK, 100, Decimal("0.27"), runs=3, interval=10, fields={"x": "y"})
    plain = OrderRequest(LINK, 1000, Decimal("0.90"))
    placements = [
        place.Placement(customer, emulated, drip_fed, Decimal("1.1"), Decimal("0.30")),
        place.Placement(customer, followers, plain, Decimal(1), None),
    ]
    alone = [await place.place(pool, p) for p in placements]
    together = await place.place_together(pool, placements)
    assert None not in together
    for lone, batched in zip(alone, together, strict=True):
        query = f"SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1"
        assert dict(await pool.fetchrow(query, lone)) == dict(await pool.fetchrow(query, batched))
        runs = "SELECT run, quantity FROM order_runs WHERE order_id = $1 ORDER BY run"
        assert [tuple(r) for r in await pool.fetch(runs, lone)] == [
            tuple(r) for r in await pool.fetch(runs, batched)
        ]
    assert await pool.fetchval("SELECT count(*) FROM order_runs") == 6
    await money_holds(pool)


async def test_an_add_priced_in_another_currency_is_refused_in_a_batch(api, pool) -> None:
    await customers.create(pool, "acme", balance=Decimal(100))
    customer = await customers.get(pool, "acme")
    followers = (await catalog.load(pool)).get(1)
    assert followers is not None
    plain = OrderRequest(LINK, 1000, Decimal("0.90"))
    in_euros = replace(customer, currency="EUR")
    placed = await place.place_together(
        pool,
        [
            place.Placement(customer, followers, plain, Decimal(1), None),
            place.Placement(in_euros, followers, plain, Decimal(1), None),
        ],
    )
    assert placed[0] is not None
    assert placed[1] is None
    assert await pool.fetchval("SELECT balance FROM customers") == Decimal("99.1")
    await money_holds(pool)
