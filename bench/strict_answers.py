"""What the strict answer table keeps: one simulated run of N orders whose panel answers some
status calls outside the table (`--fault-odd-answers`: unknown status words, remains above the
quantity, charges above the order's cost), once with `strict_answers` on and once off.

Through the real API, dispatcher, status job and PostgreSQL, in one process. Every order is
the same size, so both runs owe the same refunds (the panel's seed draws each outcome by its
order ID); the odd answers fall on different orders, since they follow the order of requests.
Money on an answer outside the table: refunds paid on it, and upstream charges above the
order's cost booked as its cost.

    python -m bench.strict_answers --orders 1000 --odd 0.05
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import tempfile
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from bench import _seed
from reseller import config, customers, db, logs
from reseller.api.app import create_app
from reseller.catalog import sync as catalog_sync
from reseller.jobs.dispatch import Dispatcher
from reseller.jobs.scheduler import Jobs
from reseller.simulator import SIM, Faults, SimConfig
from reseller.simulator import create_app as create_panel
from reseller.upstream import Upstreams

CONFIG = """
providers:
  - {{name: panel, url: "{url}", key_env: BENCH_PANEL_KEY, requests_per_minute: 1000000,
     max_concurrency: 16, strict_answers: {strict}}}
dispatch: {{scan_seconds: 0.05}}
sync: {{min_poll_seconds: 0.01, max_poll_errors: 1000}}
services: [{{id: 1, provider: panel, upstream_service: 1}}]
"""
QUANTITY = 1000  # per order: 1.35 to the customer, 0.90 upstream
# Settled on numbers outside the table: remains beyond 0..units, or a cost above rate × units.
OFF_TABLE = """
SELECT count(*) AS orders, coalesce(sum(refunded), 0) AS refunded,
       coalesce(sum(cost - upstream_rate * quantity / 1000), 0) AS overcharged
FROM orders
WHERE settled_at IS NOT NULL
  AND (remains NOT BETWEEN 0 AND quantity OR cost > upstream_rate * quantity / 1000 + 0.01)
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.strict_answers")
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--odd", type=float, default=0.05, help="odd answers per order polled")
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args(argv)
    logs.configure(level=logging.ERROR, to_stderr=True)
    with (
        tempfile.TemporaryDirectory(prefix="bench-strict-") as folder,
        _seed.database_server(Path(folder) / "pg") as (server_dsn, label),
    ):
        rows = [asyncio.run(_measured(server_dsn, args, strict=strict)) for strict in (True, False)]
    print(f"database: {label}; {args.orders} orders; odd answers {args.odd:.0%}; seed {args.seed}")
    print(
        "| strict_answers | frozen answers | still frozen | settled |"
        " settled on off-table answers | refunds paid on them | overcharge booked as cost |"
        " refunded in all |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for strict, row in zip(("on", "off"), rows, strict=True):
        print(
            f"| {strict} | {row['frozen']} | {row['still_frozen']} | {row['settled']} |"
            f" {row['off_orders']} |"
            f" {row['off_refunded']} | {row['overcharged']} | {row['refunded']} |"
        )
    return 0


async def _measured(server_dsn: str, args: argparse.Namespace, *, strict: bool) -> dict[str, Any]:
    dsn = await _seed.create_database(server_dsn)
    try:
        return await _run(dsn, args, strict=strict)
    finally:
        await _seed.drop_database(server_dsn, dsn)


async def _run(dsn: str, args: argparse.Namespace, *, strict: bool) -> dict[str, Any]:
    panel_config = SimConfig(
        key="bench-panel-key",
        seed=args.seed,
        tick=3600.0,  # the clock moves only when told (skip): rounds are comparable
        balance=Decimal(10**6),
        partial_ratio=0.2,
        cancel_ratio=0.1,
        faults=Faults(odd_answers=args.odd),
    )
    panel_app = create_panel(panel_config)
    panel = TestServer(panel_app, host="127.0.0.1")
    await panel.start_server()
    pool = await db.create_pool(dsn, min_size=2, max_size=8)
    os.environ["BENCH_PANEL_KEY"] = panel_config.key
    text = CONFIG.format(url=panel.make_url("/api/v2"), strict=str(strict).lower())
    live = config.LiveConfig(config.parse(text))
    upstreams = Upstreams(live.current.providers)
    dispatcher = Dispatcher(pool, live, upstreams)
    api = TestServer(create_app(live, pool=pool, dispatcher=dispatcher), host="127.0.0.1")
    try:
        await catalog_sync.sync(pool, live.current, upstreams)
        _, key = await customers.create(pool, "bench", balance=Decimal(10**6))
        await pool.execute("UPDATE customers SET rate_limit_per_minute = 1000000000")
        await api.start_server()
        await _adds(str(api.make_url("/api/v2")), key, args.orders)
        await _dispatched(pool, dispatcher)
        counts = await _polled(pool, Jobs(pool, live, upstreams), panel_app[SIM])
        off = await pool.fetchrow(OFF_TABLE)
        return {
            "frozen": counts["frozen"],
            "still_frozen": await pool.fetchval(
                "SELECT count(*) FROM orders WHERE frozen IS NOT NULL"
            ),
            "settled": await pool.fetchval(
                "SELECT count(*) FROM orders WHERE settled_at IS NOT NULL"
            ),
            "off_orders": off["orders"],
            "off_refunded": off["refunded"],
            "overcharged": off["overcharged"].quantize(Decimal("0.00001")),
            "refunded": await pool.fetchval("SELECT sum(refunded) FROM orders"),
        }
    finally:
        await dispatcher.stop(1.0)
        await api.close()
        await upstreams.close()
        await pool.close()
        await panel.close()


async def _adds(url: str, key: str, orders: int) -> None:
    forms = [
        {
            "key": key,
            "action": "add",
            "service": "1",
            "link": f"https://ig.com/strict{n}",
            "quantity": str(QUANTITY),
        }
        for n in range(orders)
    ]
    async with aiohttp.ClientSession() as session:
        for start in range(0, orders, 50):
            await asyncio.gather(*(_add(session, url, f) for f in forms[start : start + 50]))


async def _add(session: aiohttp.ClientSession, url: str, form: dict[str, str]) -> None:
    async with session.post(url, data=form) as answer:
        body = await answer.json()
    if "order" not in body:
        raise RuntimeError(f"add refused: {body}")


async def _dispatched(pool: db.Database, dispatcher: Dispatcher) -> None:
    while True:
        await dispatcher.scan_once()
        await dispatcher.idle()
        busy = "SELECT count(*) FROM orders WHERE dispatch_state IN ('queued', 'sending')"
        if await pool.fetchval(busy) == 0:
            return


async def _polled(pool: db.Database, jobs: Jobs, panel: Any) -> Counter[str]:
    """Polled while the orders progress, then until each is settled (or 30 rounds)."""
    counts: Counter[str] = Counter()
    for step in range(32):
        panel.skip(3600.0 if step < 2 else 36000.0)  # in progress, then every order final
        await pool.execute("UPDATE orders SET last_polled_at = NULL")
        counts.update(await jobs.status())
        open_orders = "SELECT count(*) FROM orders WHERE settled_at IS NULL"
        if step >= 2 and await pool.fetchval(open_orders) == 0:
            break
    return counts


if __name__ == "__main__":
    raise SystemExit(main())
