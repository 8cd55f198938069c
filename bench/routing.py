"""What each routing mode makes of three providers that differ: 2 000 orders through the real
API, dispatcher, status job and routing job, once per mode (`fixed`, `cheapest`, `best`,
`balanced`), each in a fresh database with the same seed.

    python -m bench.routing [--orders 2000] [--seed 17] [--markdown]

Local service 1 lists three simulated panels (in this priority order), each selling its
upstream service 1:

- `leaky`: 0.70 per 1000; half its orders end Partial with half delivered, 3 % Canceled
  (delivers ≈ 72 %);
- `premium`: 1.15; 2 % Partial with half delivered (≈ 99 %);
- `steady`: 0.90; 20 % Partial with half delivered (≈ 90 %), three times slower.

The sell rate is priced from the first candidate (`leaky`) with an 80 % markup: 1.26, above
every candidate's cost. Orders go in batches; after each, the panels' clocks run every order
to its end, the status job settles them and the routing job recomputes the figures and the
routes, which the next batch follows. Floors: min_orders 20, delivered share 0.6 (no panel
falls below it), uncertain rate 0.05; one order in 20 explores.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from aiohttp.test_utils import TestServer

from bench import _load, _seed
from reseller import config, customers, db, logs, money
from reseller.api.app import create_app
from reseller.catalog import sync as catalog_sync
from reseller.config.routing import MODES
from reseller.jobs.dispatch import Dispatcher
from reseller.jobs.scheduler import Jobs
from reseller.simulator import SIM, DeliveryProfile, SimConfig
from reseller.simulator import create_app as create_panel
from reseller.simulator.state import Simulator
from reseller.upstream import Upstreams

KEY = "bench-routing-key"
QUANTITY = 1000
BATCH = 100
STEP = 36000.0  # panel seconds per batch: every order on a panel is final after one
# name → (rate, its delivery profile for service 1)
PANELS = {
    "leaky": ("0.70", DeliveryProfile(partial_ratio=0.5, cancel_ratio=0.03, partial_delivered=0.5)),
    "premium": ("1.15", DeliveryProfile(partial_ratio=0.02, partial_delivered=0.5)),
    "steady": ("0.90", DeliveryProfile(partial_ratio=0.2, partial_delivered=0.5, slowness=3.0)),
}
PROVIDER = """  - {{name: {name}, url: "{url}", key_env: BENCH_ROUTING_KEY,
     requests_per_minute: 1000000, max_concurrency: 16}}
"""
CONFIG = """
dispatch: {{scan_seconds: 0.05}}
sync: {{min_poll_seconds: 0.01}}
pricing: {{markup_percent: 80}}
services:
  - id: 1
    upstreams: [{upstreams}]
routing: {{mode: {mode}, explore_every: 20,
          floors: {{min_orders: 20, delivered_share: 0.6, uncertain_rate: 0.05}}}}
"""
RESULTS = """
SELECT count(*) AS orders, sum(charge - refunded) AS revenue, sum(cost) AS cost,
       sum(quantity) AS ordered,
       sum(quantity - CASE status WHEN 'Canceled' THEN quantity ELSE coalesce(remains, 0) END)
           AS delivered
FROM orders WHERE settled_at IS NOT NULL
"""
SHARES = "SELECT provider, count(*) AS n FROM orders GROUP BY provider ORDER BY provider"


@dataclass(frozen=True, slots=True)
class Outcome:
    orders: int
    revenue: Decimal
    cost: Decimal
    delivered_share: Decimal
    by_provider: dict[str, int]

    @property
    def margin(self) -> Decimal:
        return self.revenue - self.cost


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.routing", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    logs.configure(level=logging.ERROR, to_stderr=True)
    os.environ["BENCH_ROUTING_KEY"] = KEY
    with (
        tempfile.TemporaryDirectory(prefix="bench-routing-") as folder,
        _seed.database_server(Path(folder) / "pg") as (server_dsn, label),
    ):
        outcomes = {mode: asyncio.run(_in_fresh_database(server_dsn, args, mode)) for mode in MODES}
    print(_table(outcomes, markdown=args.markdown))
    print(
        f"\ndatabase: {label}; seed {args.seed}; {args.orders} orders of {QUANTITY} in batches"
        f" of {BATCH}; amounts in USD"
    )
    return 0


async def _in_fresh_database(server_dsn: str, args: argparse.Namespace, mode: str) -> Outcome:
    dsn = await _seed.create_database(server_dsn)
    try:
        return await _run(dsn, args.orders, args.seed, mode)
    finally:
        await _seed.drop_database(server_dsn, dsn)


async def _run(dsn: str, orders: int, seed: int, mode: str) -> Outcome:
    servers, sims = [], []
    for rate, profile in PANELS.values():
        app = create_panel(
            SimConfig(
                key=KEY, seed=seed, tick=STEP / 10, balance=Decimal(10**6), profiles={1: profile}
            )
        )
        app[SIM].set_rate(1, rate)
        servers.append(TestServer(app, host="127.0.0.1"))
        sims.append(app[SIM])
    for server in servers:
        await server.start_server()
    providers = "".join(
        PROVIDER.format(name=name, url=server.make_url("/api/v2"))
        for name, server in zip(PANELS, servers, strict=True)
    )
    upstreams_yaml = ", ".join(f"{{provider: {name}, service: 1}}" for name in PANELS)
    text = "providers:\n" + providers + CONFIG.format(upstreams=upstreams_yaml, mode=mode)
    live = config.LiveConfig(config.parse(text))
    pool = await db.create_pool(dsn, min_size=2, max_size=16)
    upstreams = Upstreams(live.current.providers)
    dispatcher = Dispatcher(pool, live, upstreams)
    jobs = Jobs(pool, live, upstreams)
    api = TestServer(create_app(live, pool=pool, dispatcher=dispatcher), host="127.0.0.1")
    try:
        await catalog_sync.sync(pool, live.current, upstreams)
        _, key = await customers.create(pool, "bench", balance=Decimal(10**7))
        await pool.execute("UPDATE customers SET rate_limit_per_minute = 1000000000")
        await api.start_server()
        url = str(api.make_url("/api/v2"))
        for first in range(0, orders, BATCH):
            await jobs.routing()
            await _place(url, key, range(first, min(first + BATCH, orders)))
            await _settle(pool, sims, dispatcher, jobs)
        return await _outcome(pool)
    finally:
        await dispatcher.stop(1.0)
        await api.close()
        await upstreams.close()
        await pool.close()
        for server in servers:
            await server.close()


async def _place(url: str, key: str, numbers: range) -> None:
    """One add per number, each on a post of its own, from 16 clients at once."""
    forms = (
        {
            "key": key,
            "action": "add",
            "service": "1",
            "link": f"https://ig.com/p/{n}",
            "quantity": str(QUANTITY),
        }
        for n in numbers
    )
    await _load.adds(url, forms)


async def _settle(
    pool: db.Database, sims: list[Simulator], dispatcher: Dispatcher, jobs: Jobs
) -> None:
    """Dispatch the batch, run the panels' clocks past its end, poll until it is settled."""
    await dispatcher.scan_once()
    await dispatcher.idle()
    for _ in range(10):
        for sim in sims:
            sim.skip(STEP)
        await pool.execute("UPDATE orders SET last_polled_at = NULL")
        await jobs.status()
        if not await pool.fetchval("SELECT count(*) FROM orders WHERE settled_at IS NULL"):
            return
    raise RuntimeError("orders still open after 10 rounds of polling")


async def _outcome(pool: db.Database) -> Outcome:
    row = await pool.fetchrow(RESULTS)
    return Outcome(
        orders=row["orders"],
        revenue=row["revenue"],
        cost=row["cost"],
        delivered_share=Decimal(row["delivered"]) / Decimal(row["ordered"]),
        by_provider={r["provider"]: r["n"] for r in await pool.fetch(SHARES)},
    )


def _table(outcomes: dict[str, Outcome], *, markdown: bool) -> str:
    def percent(value: Decimal) -> str:
        return f"{value * 100:.1f} %"

    def amounts(value: Callable[[Outcome], Decimal]) -> list[str]:
        return [money.format_amount(value(o)) for o in outcomes.values()]

    rows = [
        ("settled orders", *(str(o.orders) for o in outcomes.values())),
        *(
            (f"  sent to {name}", *(str(o.by_provider.get(name, 0)) for o in outcomes.values()))
            for name in PANELS
        ),
        ("delivered share", *(percent(o.delivered_share) for o in outcomes.values())),
        (
            "revenue (kept after refunds)",
            *(money.format_amount(o.revenue) for o in outcomes.values()),
        ),
        ("cost", *(money.format_amount(o.cost) for o in outcomes.values())),
        ("margin", *(money.format_amount(o.margin) for o in outcomes.values())),
        ("margin, share of revenue", *(percent(o.margin / o.revenue) for o in outcomes.values())),
    ]
    header = ("", *outcomes)
    if markdown:
        lines = [header, ("---", *("---:" for _ in outcomes)), *rows]
        return "\n".join("| " + " | ".join(r) + " |" for r in lines)
    lines = [header, *rows]
    widths = [max(len(r[i]) for r in lines) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in lines)


if __name__ == "__main__":
    sys.exit(main())
