"""What the margin safeguards keep: 1 000 orders through the real app, its dispatcher and status
job, on a simulated panel that misbehaves the way operators complain of — twice, in fresh
databases, with the same seed: once with the safeguards on (the defaults) and once with them
off. The baseline is the same run with them off.

    python -m bench.margin [--orders 1000] [--markdown]

The panel: customers order the same posts again while earlier orders on them still run, each
post written several ways (`www.`, tracking parameters, `/reel/` for `/p/`).

Safeguard (off means)            | money it keeps
---------------------------------|------------------------------------------------------------
one active order per link        | orders that ran on a target beside another of their service
(`allow_overlap: true` on all)   | (underrun, no recalculation): their charges, at risk
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import aiohttp
from aiohttp import web

from bench import _seed
from reseller import config, customers, db, logs, money
from reseller.api.app import create_app
from reseller.catalog import sync as catalog_sync
from reseller.jobs.dispatch import Dispatcher
from reseller.jobs.scheduler import Jobs
from reseller.simulator import SIM, SimConfig
from reseller.simulator import create_app as create_panel
from reseller.simulator.state import Simulator
from reseller.upstream import Upstreams

PANEL_KEY = "bench-margin-key"
CONFIG = """
providers:
  - {{name: panel, url: "{url}", key_env: BENCH_MARGIN_KEY, requests_per_minute: 1000000,
     max_concurrency: 32, timeout: 5}}
dispatch: {{scan_seconds: 0.05, link_wait_seconds: 0.2}}
sync: {{min_poll_seconds: 0.01}}
pricing: {{markup_percent: 50}}
services:
  - {{id: 1, provider: panel, upstream_service: 1{overlap}}}
  - {{id: 2, provider: panel, upstream_service: 2{overlap}}}
"""
TARGETS = 120  # distinct posts
CUSTOMERS = 10
TICK = 1.0  # seconds per panel step: an order runs 3 steps, long enough to be ordered again
LINK_WAIT = 0.2  # dispatch.link_wait_seconds above
ROUNDS = 60
# One post, written the ways customers paste it.
SPELLINGS = (
    "https://www.instagram.com/p/{code}/",
    "https://instagram.com/p/{code}?utm_source=ig_web_copy_link",
    "instagram.com/reel/{code}/",
)


@dataclass(frozen=True, slots=True)
class Outcome:
    orders: int
    placed: int
    overlapped: int  # orders that ran beside another of their service on one target
    overlapped_charge: Decimal  # what customers paid for those, in the base currency
    seconds: float


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.margin", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    logs.configure(level=logging.WARNING, to_stderr=True)
    with (
        tempfile.TemporaryDirectory(prefix="bench-margin-") as folder,
        _seed.database_server(Path(folder) / "pg") as (server_dsn, label),
    ):
        on, off = (
            asyncio.run(_in_fresh_database(server_dsn, args, safeguards=True)),
            asyncio.run(_in_fresh_database(server_dsn, args, safeguards=False)),
        )
    print(_table(on, off, markdown=args.markdown))
    print(f"\ndatabase: {label}; seed {args.seed}; {args.orders} orders over {TARGETS} posts")
    return 0


async def _in_fresh_database(
    server_dsn: str, args: argparse.Namespace, *, safeguards: bool
) -> Outcome:
    dsn = await _seed.create_database(server_dsn)
    try:
        return await _run(dsn, args.orders, args.seed, safeguards=safeguards)
    finally:
        await _seed.drop_database(server_dsn, dsn)


async def _run(dsn: str, orders: int, seed: int, *, safeguards: bool) -> Outcome:
    started = time.monotonic()
    os.environ["BENCH_MARGIN_KEY"] = PANEL_KEY
    panel = create_panel(SimConfig(key=PANEL_KEY, seed=seed, tick=TICK, balance=Decimal(10**9)))
    pool = await db.create_pool(dsn, min_size=4, max_size=16)
    try:
        async with _served(panel) as panel_url:
            overlap = "" if safeguards else ", allow_overlap: true"
            url = f"{panel_url}/api/v2"
            live = config.LiveConfig(config.parse(CONFIG.format(url=url, overlap=overlap)))
            upstreams = Upstreams(live.current.providers)
            await catalog_sync.sync(pool, live.current, upstreams)
            keys = [
                (await customers.create(pool, f"c{n}", balance=Decimal(10**6)))[1]
                for n in range(CUSTOMERS)
            ]
            dispatcher = Dispatcher(pool, live, upstreams)
            jobs = Jobs(pool, live, upstreams)
            async with _served(create_app(live, pool=pool, dispatcher=dispatcher)) as api_url:
                await _place(f"{api_url}/api/v2", keys, orders, random.Random(seed))
                await _until_settled(pool, panel[SIM], dispatcher, jobs)
            await dispatcher.stop(1.0)
            await upstreams.close()
            return await _outcome(pool, panel[SIM], started)
    finally:
        await pool.close()


async def _place(url: str, keys: list[str], count: int, rng: random.Random) -> None:
    """`count` adds from 16 clients at once, each a random customer, service and post (in one
    of its spellings): the same posts come back while earlier orders on them still run."""
    forms = [
        {
            "key": rng.choice(keys),
            "action": "add",
            "service": str(rng.randint(1, 2)),
            "link": rng.choice(SPELLINGS).format(code=f"Cx{rng.randrange(TARGETS):04d}Q"),
            "quantity": str(rng.randrange(100, 1000, 100)),
        }
        for _ in range(count)
    ]
    queue = iter(forms)
    async with aiohttp.ClientSession() as session:

        async def client() -> None:
            for form in queue:
                async with session.post(url, data=form) as response:
                    answer = await response.json()
                if "order" not in answer:
                    raise RuntimeError(f"add refused: {answer}")

        await asyncio.gather(*(client() for _ in range(16)))


async def _until_settled(
    pool: db.Database, sim: Simulator, dispatcher: Dispatcher, jobs: Jobs
) -> None:
    """The panel's clock runs on: dispatch (waiting orders go as their link frees) and the
    status job, until every order is settled (bounded)."""
    for _ in range(ROUNDS):
        open_orders = await pool.fetchval("SELECT count(*) FROM orders WHERE settled_at IS NULL")
        if open_orders == 0:
            return
        sim.skip(TICK * 4)  # every order on the panel now is final
        await pool.execute("UPDATE orders SET last_polled_at = NULL")
        await jobs.status()
        await asyncio.sleep(LINK_WAIT)
        await dispatcher.scan_once()
        await dispatcher.idle()
    raise RuntimeError(f"{open_orders} orders still open after {ROUNDS} rounds")


async def _outcome(pool: db.Database, sim: Simulator, started: float) -> Outcome:
    overlapped = {str(o.id) for o in sim.overlapped()}
    rows = await pool.fetch(
        "SELECT upstream_order_id, charge * currency_rate AS paid FROM orders"
        " WHERE upstream_order_id IS NOT NULL"
    )
    at_risk = sum((r["paid"] for r in rows if r["upstream_order_id"] in overlapped), Decimal(0))
    total = await pool.fetchval("SELECT count(*) FROM orders")
    return Outcome(total, len(rows), len(overlapped), at_risk, time.monotonic() - started)


@asynccontextmanager
async def _served(app: web.Application) -> AsyncIterator[str]:
    """The app on a loopback port; its base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def _table(on: Outcome, off: Outcome, *, markdown: bool) -> str:
    rows = [
        ("orders placed with the provider", f"{on.placed}", f"{off.placed}"),
        ("underrun: ran beside another on one post", f"{on.overlapped}", f"{off.overlapped}"),
        (
            "  their charges, at risk",
            money.format_amount(on.overlapped_charge),
            money.format_amount(off.overlapped_charge),
        ),
        ("run time, s", f"{on.seconds:.1f}", f"{off.seconds:.1f}"),
    ]
    header = ("", "safeguards on", "off (baseline)")
    if markdown:
        lines = [header, ("---", "---:", "---:"), *rows]
        return "\n".join("| " + " | ".join(r) + " |" for r in lines)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in [header, *rows]
    )


if __name__ == "__main__":
    sys.exit(main())
