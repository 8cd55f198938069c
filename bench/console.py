"""How long each console page takes to render with 1 000 000 orders in the table, against the
sign-in page (a template and no query) measured in the same run.

    python -m bench.console [--orders 1000000] [--requests 30] [--markdown]

The seed is the API bench's (bench/_seed.py: 1 000 customers, 100 services, every order with
its charge in the ledger), then spread as a year of trade: orders placed over the last 365
days, those older than two days finished and settled an hour after they were placed; of the
open ones (about 2 200), one Pending in 20 uncertain and one In progress in 50 frozen.

Each page is fetched by a signed-in client over loopback, in turn with the others, `--requests`
times after a warm-up; the table gives the median and p95 in ms and the median as a multiple of
the baseline's. The dashboard's first answer after start, which waits for the 30 days to be
summed (later ones show the sum kept in memory), is timed alone.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from bench import _seed
from reseller import config, db, logs, operators
from reseller.audit import Actor
from reseller.catalog import sync as catalog_sync
from reseller.console.app import create_console
from reseller.upstream import Upstreams

BASELINE = "/login"
PASSWORD = "bench console password"
SPREAD = """
UPDATE orders SET
    created_at = now() - (id * 7919 % (365 * 24 * 60)) * interval '1 minute',
    provider = 'bench', upstream_service = '10001', upstream_order_id = id::text,
    cost = charge * 0.75
"""
# Orders still open after two days are few on a real panel: older ones finished.
FINISH = """
UPDATE orders SET status = 'Completed', remains = 0
WHERE status IN ('Pending', 'In progress') AND created_at < now() - interval '2 days'
"""
TROUBLE = """
UPDATE orders SET
    dispatch_state = CASE WHEN id % 20 = 0 AND status = 'Pending' THEN 'uncertain'
                          ELSE dispatch_state END,
    frozen = CASE WHEN id % 50 = 1 AND status = 'In progress' THEN 'Refunding' END,
    frozen_answer = CASE WHEN id % 50 = 1 AND status = 'In progress'
                         THEN '{"status": "Refunding"}'::jsonb END
WHERE settled_at IS NULL
"""
SETTLE = """
UPDATE orders SET settled_at = created_at + interval '1 hour'
WHERE status IN ('Completed', 'Partial', 'Canceled')
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.console", description=__doc__)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=30, help="per page, after a warm-up")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    logs.configure(level=logging.ERROR, to_stderr=True)
    os.environ.setdefault("BENCH_KEY", "bench")
    with (
        tempfile.TemporaryDirectory(prefix="bench-console-") as folder,
        _seed.database_server(Path(folder) / "pg") as (server_dsn, label),
    ):
        rows = asyncio.run(_in_fresh_database(server_dsn, args))
    print(_table(rows, markdown=args.markdown))
    print(f"\ndatabase: {label}; {args.orders} orders; {args.requests} requests per page")
    return 0


async def _in_fresh_database(server_dsn: str, args: argparse.Namespace) -> list[tuple[str, ...]]:
    dsn = await _seed.create_database(server_dsn)
    try:
        started = time.monotonic()
        app_config = await _seeded(dsn, args.orders)
        print(f"seeded in {time.monotonic() - started:.0f} s", file=sys.stderr)
        return await _measure(dsn, app_config, args.requests)
    finally:
        await _seed.drop_database(server_dsn, dsn)


async def _seeded(dsn: str, orders: int) -> config.Config:
    sizes = _seed.Sizes(services=100, customers=1000, orders=orders)
    pool = await db.create_pool(dsn, min_size=1, max_size=1)
    app_config = _seed.config(sizes.services, pool_size=4)
    try:
        fetched = {_seed.PROVIDER: _seed._offers(sizes.services)}
        await catalog_sync.rebuild(pool, app_config, fetched=fetched)
        async with pool.session() as conn:
            await _seed._customers(conn, [(f"bench-{n:05d}", None) for n in range(1000)])
            await _seed._orders(conn, sizes)
            for step in (SPREAD, FINISH, SETTLE, TROUBLE):
                await conn.execute(step)
            await conn.execute("VACUUM ANALYZE")
        await operators.add(pool, "bench", "admin", PASSWORD, by=Actor("bench"))
    finally:
        await pool.close()
    return app_config


async def _measure(dsn: str, app_config: config.Config, requests: int) -> list[tuple[str, ...]]:
    pool = await db.create_pool(dsn, min_size=4, max_size=4)
    upstreams = Upstreams(app_config.providers)
    live = config.LiveConfig(app_config)
    app = create_console(live, pool=pool, upstreams=upstreams, secret=secrets.token_bytes(32))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
            await _sign_in(client, url)
            paths = await _pages(pool)
            first = await _timed(client, url, ["/"], 1, warm_up=0)  # sums the 30 days
            times = await _timed(client, url, [BASELINE, *paths], requests)
    finally:
        await runner.cleanup()
        await upstreams.close()
        await pool.close()
    base = statistics.median(times[BASELINE])
    cold = first["/"][0]
    return [
        ("/ (first after start)", f"{cold * 1000:.1f}", "", f"{cold / base:.1f}×"),
        *(
            (
                path,
                f"{statistics.median(t) * 1000:.1f}",
                f"{_p95(t) * 1000:.1f}",
                f"{statistics.median(t) / base:.1f}×",
            )
            for path, t in times.items()
        ),
    ]


async def _sign_in(client: aiohttp.ClientSession, url: str) -> None:
    async with client.get(f"{url}/login") as r:
        page = await r.text()
    token = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    form = {"csrf": token, "name": "bench", "password": PASSWORD}
    async with client.post(f"{url}/login", data=form, allow_redirects=False) as r:
        if r.status != 303:
            raise RuntimeError(f"sign-in refused: {r.status}")


async def _pages(pool: db.Database) -> list[str]:
    """Every page, with filters that make the database work: one customer's orders, a status,
    a date range, a link; an order's story."""
    order = await pool.fetchval("SELECT max(id) FROM orders WHERE status = 'Partial'")
    customer = await pool.fetchval("SELECT name FROM customers ORDER BY id LIMIT 1 OFFSET 7")
    return [
        "/",
        "/orders",
        f"/orders?customer={customer}",
        "/orders?status=Partial",
        "/orders?dispatch=refused",  # none: every order read without its index
        "/orders?service=7",
        "/orders?since=2026-06-01&until=2026-06-02",
        "/orders?link=https%3A%2F%2Finstagram.com%2Fp%2Fseed777",
        f"/orders/{order}",
        "/orders/uncertain",
        "/customers",
        f"/customers/{customer}",
        f"/customers/{customer}/statement",
        "/services",
        "/providers",
        "/audit",
    ]


async def _timed(
    client: aiohttp.ClientSession, url: str, paths: list[str], requests: int, warm_up: int = 2
) -> dict[str, list[float]]:
    """Each page in turn, so a slower moment of the machine falls on all of them alike; the
    first `warm_up` rounds are not counted."""
    times: dict[str, list[float]] = {p: [] for p in paths}
    for n in range(requests + warm_up):
        for path in paths:
            started = time.perf_counter()
            async with client.get(url + path, allow_redirects=False) as r:
                await r.read()
                if r.status != 200:
                    raise RuntimeError(f"{path}: {r.status}")
            if n >= warm_up:
                times[path].append(time.perf_counter() - started)
    return times


def _p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(len(values) * 0.95) - 1)]


def _table(rows: list[tuple[str, ...]], *, markdown: bool) -> str:
    header = ("page", "median ms", "p95 ms", "× baseline")
    if markdown:
        lines = [header, ("---", "---:", "---:", "---:"), *rows]
        return "\n".join("| " + " | ".join(r) + " |" for r in lines)
    width = max(len(r[0]) for r in [header, *rows])
    return "\n".join(f"{r[0]:<{width}}  {r[1]:>9}  {r[2]:>7}  {r[3]:>10}" for r in [header, *rows])


if __name__ == "__main__":
    sys.exit(main())
