"""One status-sync pass over N active orders against a provider with a fixed latency.

The pass time is compared with its floor measured in the same run: the same number of
100-ID `status` calls through the same client at the same concurrency, without the database
(`ceil(N/100) × latency / concurrency` in theory). Also reported: the database time per batch
(claim + progress update of 100 orders), and the peak memory of the pass at each N, which must
stay flat as N grows (batches stream; nothing holds all orders).

    python -m bench.sync                      # N = 10 000 and 100 000, latency 50 ms, 10 calls
    python -m bench.sync --orders 10000,100000,1000000 --latency 0.05 --concurrency 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import resource
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import orjson
from aiohttp import web

from bench import _procs, _seed
from reseller import db, logs
from reseller.config import ProviderConfig, SyncConfig
from reseller.db import Q
from reseller.jobs import polling
from reseller.upstream import ProviderClient

KEY_ENV = "BENCH_PANEL_KEY"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.sync", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--orders", default="10000,100000", help="comma list of N")
    parser.add_argument("--latency", type=float, default=0.05, help="provider latency, seconds")
    parser.add_argument("--concurrency", type=int, default=10, help="calls in flight")
    sub = parser.add_subparsers(dest="child")
    panel = sub.add_parser("panel")
    panel.add_argument("--port", type=int, required=True)
    one = sub.add_parser("pass")
    one.add_argument("--dsn", required=True)
    one.add_argument("--url", required=True)
    floor = sub.add_parser("floor")
    floor.add_argument("--url", required=True)
    floor.add_argument("--calls", type=int, required=True)
    args = parser.parse_args(argv)
    logs.configure(level=logging.WARNING, to_stderr=True)  # stdout carries the figures
    if args.child == "panel":
        web.run_app(_panel(args.latency), host="127.0.0.1", port=args.port, print=None)
        return 0
    if args.child == "pass":
        print(json.dumps(asyncio.run(_one_pass(args.dsn, args.url, args.concurrency))))
        return 0
    if args.child == "floor":
        print(asyncio.run(_floor(args.url, args.calls, args.concurrency)))
        return 0
    return _run(args)


def _run(args: argparse.Namespace) -> int:
    sizes = [int(n) for n in args.orders.split(",")]
    port = _procs.free_port()
    url = f"http://127.0.0.1:{port}/api/v2"
    rows = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-sync-") as folder,
        _seed.database_server(Path(folder) / "pg") as (server_dsn, label),
        _procs.Server(
            _argv("--latency", str(args.latency), "panel", "--port", str(port)),
            ready_url=f"http://127.0.0.1:{port}/ready",
            log=Path(folder) / "panel.log",
        ),
    ):
        for n in sizes:
            dsn = asyncio.run(_seeded(server_dsn, n))
            try:
                calls = math.ceil(n / polling.BATCH)
                floor = float(
                    _procs.run(
                        _argv(
                            "--concurrency",
                            str(args.concurrency),
                            "floor",
                            "--url",
                            url,
                            "--calls",
                            str(calls),
                        ),
                        cpu=_procs.LOAD_CPU,
                        timeout=3600,
                    )
                )
                measured = json.loads(
                    _procs.run(
                        _argv(
                            "--concurrency",
                            str(args.concurrency),
                            "pass",
                            "--dsn",
                            dsn,
                            "--url",
                            url,
                        ),
                        cpu=_procs.LOAD_CPU,
                        timeout=3600,
                    )
                )
            finally:
                asyncio.run(_seed.drop_database(server_dsn, dsn))
            theory = calls * args.latency / args.concurrency
            rows.append((n, calls, measured, floor, theory))
    print(
        f"database: {label}; latency {args.latency * 1000:.0f} ms; "
        f"{args.concurrency} calls in flight; load average {os.getloadavg()[0]:.2f}"
    )
    print(
        "| orders | status calls | pass s | floor s (measured) | floor s (theory) | "
        "pass / floor | DB ms per batch | peak RSS MB |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n, calls, m, floor, theory in rows:
        print(
            f"| {n:,} | {calls:,} | {m['seconds']:.2f} | {floor:.2f} | {theory:.2f} | "
            f"{m['seconds'] / floor:.2f} | {m['db_ms_per_batch']:.2f} | {m['rss_mb']:.0f} |"
        )
    print(
        f"reproduce: python -m bench.sync --orders {args.orders} --latency {args.latency} "
        f"--concurrency {args.concurrency}"
    )
    return 0


def _panel(latency: float) -> web.Application:
    """A provider that answers every `status` call after `latency`: every order In progress."""
    answer = {
        "charge": "0.10",
        "start_count": "100",
        "status": "In progress",
        "remains": "50",
        "currency": "USD",
    }

    async def api(request: web.Request) -> web.Response:
        form = await request.post()
        await asyncio.sleep(latency)
        ids = str(form.get("orders", "")).split(",")
        return web.Response(
            body=orjson.dumps({i: answer for i in ids}), content_type="application/json"
        )

    async def ready(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/api/v2", api)
    app.router.add_get("/ready", ready)
    return app


async def _seeded(server_dsn: str, orders: int) -> str:
    """A database with `orders` placed, unsettled orders of provider `panel`."""
    dsn = await _seed.create_database(server_dsn)
    async with db.connection(dsn) as conn:
        await conn.execute(
            "INSERT INTO customers (name, api_key_hash) VALUES ('bench', '\\x00');"
            "INSERT INTO services (id, name, type, category, rate, min_quantity, max_quantity)"
            " VALUES (1, 'S', 'Default', 'C', 1, 1, 1000)"
        )
        await conn.execute(
            "INSERT INTO orders (customer_id, service_id, link, quantity, charge, currency,"
            " provider, upstream_service, upstream_order_id, dispatch_state, status)"
            " SELECT 1, 1, 'https://x.com/' || i, 100, 0.1, 'USD', 'panel', '1', i::text,"
            " 'placed', 'Processing' FROM generate_series(1, $1) AS i",
            orders,
        )
        await conn.execute("ANALYZE orders")
    return dsn


def _client(url: str, concurrency: int) -> ProviderClient:
    os.environ[KEY_ENV] = "bench"
    return ProviderClient(
        ProviderConfig(
            name="panel",
            url=url,
            key_env=KEY_ENV,
            max_concurrency=concurrency,
            requests_per_minute=10**6,
        )
    )


async def _floor(url: str, calls: int, concurrency: int) -> float:
    """The same calls through the same client, without the database."""
    client = _client(url, concurrency)
    ids = [str(i) for i in range(1, polling.BATCH + 1)]
    remaining = calls

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await client.statuses(ids)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await client.close()
    return elapsed


async def _one_pass(dsn: str, url: str, concurrency: int) -> dict[str, float]:
    pool = await db.create_pool(dsn, min_size=concurrency + 1, max_size=concurrency + 1)
    client = _client(url, concurrency)
    settings = SyncConfig(min_poll_seconds=Decimal(3600))
    started = time.perf_counter()
    counts = await polling.poll_statuses(pool, client, settings)
    seconds = time.perf_counter() - started
    assert counts["progress"] > 0, counts
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    db_ms = await _db_time_per_batch(pool)
    await client.close()
    await pool.close()
    return {
        "seconds": seconds,
        "db_ms_per_batch": db_ms,
        "rss_mb": rss_mb,
        "requests": counts["requests"],
    }


async def _db_time_per_batch(pool: db.Database, batches: int = 50) -> float:
    """Claim 100 orders and write their progress, with no provider in between."""
    await pool.execute("UPDATE orders SET last_polled_at = NULL")
    cutoff = await pool.fetchval(Q.poll_cutoff, 3600.0)
    started = time.perf_counter()
    after_id = 0
    for _ in range(batches):
        batch = await pool.fetch(Q.claim_poll_batch, "panel", cutoff, polling.BATCH, after_id)
        ids = [r["id"] for r in batch]
        after_id = max(ids)
        n = len(ids)
        await pool.execute(
            Q.apply_progress, ids, ["In progress"] * n, [50] * n, [100] * n, [Decimal("0.1")] * n
        )
    return (time.perf_counter() - started) * 1000 / batches


def _argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "bench.sync", *args]


if __name__ == "__main__":
    sys.exit(main())
