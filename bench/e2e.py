"""End-to-end order throughput: `add` over HTTP → dispatch upstream → status sync → Completed,
through a real `reseller serve` process and the simulated panel (orders complete at once).

Its baseline, measured in the same run: the same number of `add` calls sent straight to the
simulated panel at the same concurrency — what the upstream alone can take.

    python -m bench.e2e --orders 2000 --concurrency 32
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import aiohttp

from bench import _procs, _seed
from reseller import customers, db, logs

PANEL_KEY = "bench-panel-key"
CONFIG = """
providers:
  - {{name: panel, url: "{url}", key_env: BENCH_PANEL_KEY, requests_per_minute: 1000000,
     max_concurrency: 32}}
dispatch: {{scan_seconds: 0.2}}
sync: {{status_seconds: 0.2, min_poll_seconds: 0.1, catalog_seconds: 3600}}
imports: [{{provider: panel, category: "*", first_id: 1}}]
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.e2e", description=__doc__.split(":")[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args(argv)
    logs.configure(level=logging.WARNING, to_stderr=True)
    with (
        tempfile.TemporaryDirectory(prefix="bench-e2e-") as folder,
        _seed.database_server(Path(folder) / "pg") as (server_dsn, label),
    ):
        dsn = asyncio.run(_seed.create_database(server_dsn))
        try:
            result = _run(dsn, Path(folder), args.orders, args.concurrency)
        finally:
            asyncio.run(_seed.drop_database(server_dsn, dsn))
    upstream_rate, adds_seconds, e2e_seconds, completed = result
    rate = args.orders / e2e_seconds
    print(f"database: {label}; {args.concurrency} clients; load average {os.getloadavg()[0]:.2f}")
    print(
        "| orders | adds answered s | add → all Completed s | orders/s | "
        "upstream alone orders/s | ratio |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {completed:,} | {adds_seconds:.2f} | {e2e_seconds:.2f} | {rate:,.0f} | "
        f"{upstream_rate:,.0f} | {rate / upstream_rate:.2f} |"
    )
    print(f"reproduce: python -m bench.e2e --orders {args.orders} --concurrency {args.concurrency}")
    return 0


def _run(dsn: str, folder: Path, orders: int, concurrency: int) -> tuple[float, float, float, int]:
    panel_port, port = _procs.free_port(), _procs.free_port()
    panel_url = f"http://127.0.0.1:{panel_port}/api/v2"
    panel = [
        sys.executable,
        "-m",
        "reseller.simulator",
        "--port",
        str(panel_port),
        "--key",
        PANEL_KEY,
        "--tick",
        "0",
    ]
    with _procs.Server(
        panel, ready_url=f"http://127.0.0.1:{panel_port}/api/v2", log=folder / "panel.log"
    ):
        upstream_rate = orders / asyncio.run(_adds(panel_url, PANEL_KEY, orders, concurrency))
        key = asyncio.run(_customer(dsn, orders))
        (folder / "config.yaml").write_text(CONFIG.format(url=panel_url))
        os.environ.update(
            BENCH_PANEL_KEY=PANEL_KEY, RESELLER_DSN=dsn, RESELLER_CONFIG=str(folder / "config.yaml")
        )
        serve = [sys.executable, "-m", "reseller", "serve", "--port", str(port)]
        with _procs.Server(
            serve, ready_url=f"http://127.0.0.1:{port}/readyz", log=folder / "serve.log"
        ):
            url = f"http://127.0.0.1:{port}/api/v2"
            asyncio.run(_procs.wait_for_catalog(url, key))
            started = time.perf_counter()
            adds_seconds = asyncio.run(_adds(url, key, orders, concurrency))
            completed = asyncio.run(_wait_completed(dsn, orders))
            e2e_seconds = time.perf_counter() - started
    return upstream_rate, adds_seconds, e2e_seconds, completed


async def _adds(url: str, key: str, orders: int, concurrency: int) -> float:
    """`orders` add calls from `concurrency` clients; seconds taken."""
    remaining = orders

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            form = {
                "key": key,
                "action": "add",
                "service": "1",
                "quantity": "100",
                "link": f"https://ig.com/e2e-{remaining}-{time.monotonic_ns()}",
            }
            async with session.post(url, data=form) as answer:
                body = await answer.json()
                assert "order" in body, body

    started = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
    return time.perf_counter() - started


async def _customer(dsn: str, orders: int) -> str:
    pool = await db.create_pool(dsn, min_size=1, max_size=2)
    try:
        _, key = await customers.create(pool, "bench", balance=Decimal(orders))
        await pool.execute("UPDATE customers SET rate_limit_per_minute = 1000000000")
    finally:
        await pool.close()
    return key


async def _wait_completed(dsn: str, orders: int) -> int:
    async with db.connection(dsn) as conn:
        while True:
            done = await conn.fetchval("SELECT count(*) FROM orders WHERE status = 'Completed'")
            if done >= orders:
                return int(done)
            await asyncio.sleep(0.05)


if __name__ == "__main__":
    sys.exit(main())
