"""What the margin safeguards keep: 1 000 orders through the real API, dispatcher and status
job on a simulated panel that loses money in the ways operators complain of — twice, each in a
fresh database with the same seed: once with the safeguards on (the defaults) and once off,
the baseline.

    python -m bench.margin [--orders 1000] [--seed 16] [--markdown]

The panel: customers order the same 120 posts again while earlier orders on them still run
(each post written three ways); 5 % of its status answers are outside the table (unknown
words, remains above the quantity, charges above the rate); it ends 30 % of orders Partial and
10 % Canceled, keeps the refund of 20 % of those, and charges 5 % of orders 10 % above its rate.

Off means: `allow_overlap: true` on every service, `strict_answers: false` on the provider, and
a `sync.loss_tolerance` no loss exceeds (the provider check records nothing).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from aiohttp.test_utils import TestServer

from bench import _load, _seed
from reseller import config, customers, db, logs, money
from reseller.api.app import create_app
from reseller.audit import Actor
from reseller.catalog import sync as catalog_sync
from reseller.jobs.dispatch import Dispatcher
from reseller.jobs.scheduler import Jobs
from reseller.orders import resolve
from reseller.simulator import SIM, Faults, SimConfig, SimOrder
from reseller.simulator import create_app as create_panel
from reseller.simulator.state import Simulator
from reseller.upstream import Upstreams

PANEL_KEY = "bench-margin-key"
CONFIG = """
providers:
  - {{name: panel, url: "{url}", key_env: BENCH_MARGIN_KEY, requests_per_minute: 1000000,
     max_concurrency: 16, strict_answers: {strict}}}
dispatch: {{scan_seconds: 0.05}}
sync: {{min_poll_seconds: 0.01, max_poll_errors: 1000, loss_tolerance: {tolerance}}}
pricing: {{markup_percent: 50}}
services:
  - {{id: 1, provider: panel, upstream_service: 1, allow_overlap: {overlap}}}
  - {{id: 2, provider: panel, upstream_service: 2, allow_overlap: {overlap}}}
"""
QUANTITY = 1000
TOLERANCE = Decimal("0.01")  # sync.loss_tolerance with the safeguards on
TARGETS = 120  # distinct posts
CUSTOMERS = 10
SPELLINGS = (  # one post, written the ways customers paste it
    "https://www.instagram.com/p/{code}/",
    "https://instagram.com/p/{code}?utm_source=ig_web_copy_link",
    "instagram.com/reel/{code}/",
)
ROUNDS = 100  # of dispatch and polling, at most
OPERATOR = Actor("bench", reason="read on the panel")
STEP = 36000.0  # panel seconds per round: every order on the panel is final after one
# Settled on a remains outside 0..units: a refund paid on an answer outside the table.
BAD_REMAINS = """
SELECT count(*) AS orders, coalesce(sum(refunded), 0) AS refunded FROM orders
WHERE settled_at IS NOT NULL AND remains NOT BETWEEN 0 AND quantity
"""
# Charged above rate × units, booked as our cost with no loss recorded for it: unnoticed.
UNNOTICED_OVERCHARGE = """
SELECT count(*) AS orders, coalesce(sum(cost - upstream_rate * quantity / 1000), 0) AS amount
FROM orders o
WHERE cost > upstream_rate * quantity / 1000 + 0.01
  AND NOT EXISTS (SELECT 1 FROM provider_losses p
                  WHERE p.order_id = o.id AND p.kind = 'overcharged')
"""
LOSSES = """
SELECT kind, count(*) AS orders, sum(at_stake) AS amount FROM provider_losses GROUP BY kind
"""


@dataclass(frozen=True, slots=True)
class Outcome:
    placed: int
    rounds: int
    overlapped: int  # orders that ran beside another of their service on one post: underrun
    overlapped_charge: Decimal  # what customers paid for those
    frozen: int  # answers outside the table an order was frozen on
    resolved: int  # frozen orders the operator settled as the panel showed them
    bad_remains: tuple[int, Decimal]  # orders settled on a remains outside the table; refunds
    unnoticed: tuple[int, Decimal]  # overcharges booked as our cost with no loss recorded
    unrefunded: tuple[int, Decimal]  # orders the provider kept a refund of, found; amount
    overcharged: tuple[int, Decimal]
    panel_kept: Decimal  # the panel's own books: what it kept beyond its rate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.margin", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    logs.configure(level=logging.ERROR, to_stderr=True)
    with (
        tempfile.TemporaryDirectory(prefix="bench-margin-") as folder,
        _seed.database_server(Path(folder) / "pg") as (server_dsn, label),
    ):
        on, off = (asyncio.run(_in_fresh_database(server_dsn, args, on=on)) for on in (True, False))
    print(_table(on, off, markdown=args.markdown))
    print(
        f"\ndatabase: {label}; seed {args.seed}; {args.orders} orders of {QUANTITY} over"
        f" {TARGETS} posts; amounts in USD, the base currency and the panel's"
    )
    return 0


async def _in_fresh_database(server_dsn: str, args: argparse.Namespace, *, on: bool) -> Outcome:
    dsn = await _seed.create_database(server_dsn)
    try:
        return await _run(dsn, args.orders, args.seed, safeguards=on)
    finally:
        await _seed.drop_database(server_dsn, dsn)


async def _run(dsn: str, orders: int, seed: int, *, safeguards: bool) -> Outcome:
    panel_app = create_panel(
        SimConfig(
            key=PANEL_KEY,
            seed=seed,
            tick=STEP / 10,  # the clock moves when told (skip): runs are comparable
            balance=Decimal(10**6),
            partial_ratio=0.3,
            cancel_ratio=0.1,
            unrefunded_ratio=0.2,
            overcharge_ratio=0.05,
            faults=Faults(odd_answers=0.05),
        )
    )
    panel, sim = TestServer(panel_app, host="127.0.0.1"), panel_app[SIM]
    await panel.start_server()
    os.environ["BENCH_MARGIN_KEY"] = PANEL_KEY
    text = CONFIG.format(
        url=panel.make_url("/api/v2"),
        strict=str(safeguards).lower(),
        overlap=str(not safeguards).lower(),
        tolerance=TOLERANCE if safeguards else "1000",
    )
    live = config.LiveConfig(config.parse(text))
    pool = await db.create_pool(dsn, min_size=2, max_size=16)
    upstreams = Upstreams(live.current.providers)
    dispatcher = Dispatcher(pool, live, upstreams)
    api = TestServer(create_app(live, pool=pool, dispatcher=dispatcher), host="127.0.0.1")
    try:
        await catalog_sync.sync(pool, live.current, upstreams)
        keys = [
            (await customers.create(pool, f"c{n}", balance=Decimal(10**6)))[1]
            for n in range(CUSTOMERS)
        ]
        await pool.execute("UPDATE customers SET rate_limit_per_minute = 1000000000")
        await api.start_server()
        await _place(str(api.make_url("/api/v2")), keys, orders, random.Random(seed))
        rounds, counts = await _until_settled(pool, sim, dispatcher, Jobs(pool, live, upstreams))
        return await _outcome(pool, sim, rounds, counts)
    finally:
        await dispatcher.stop(1.0)
        await api.close()
        await upstreams.close()
        await pool.close()
        await panel.close()


async def _place(url: str, keys: list[str], count: int, rng: random.Random) -> None:
    """`count` adds from 16 clients at once, each a random customer, service and post (in one
    of its spellings): the same posts come back while earlier orders on them still run."""
    forms = [
        {
            "key": rng.choice(keys),
            "action": "add",
            "service": str(rng.randint(1, 2)),
            "link": rng.choice(SPELLINGS).format(code=f"Cx{rng.randrange(TARGETS):04d}Q"),
            "quantity": str(QUANTITY),
        }
        for _ in range(count)
    ]
    await _load.adds(url, forms)


async def _until_settled(
    pool: db.Database, sim: Simulator, dispatcher: Dispatcher, jobs: Jobs
) -> tuple[int, Counter[str]]:
    """Rounds of dispatch (orders waiting for a post go once the one before them is final),
    then the panel's clock past every order's end, then the status job: until every order is
    settled. A round that settles nothing more leaves frozen orders the panel keeps answering
    oddly (an overcharge is in every answer): the operator reads them on the panel and settles
    them (`orders resolve --accept-status`). The rounds it took, and the counts."""
    counts: Counter[str] = Counter()
    open_before = None
    for rounds in range(1, ROUNDS + 1):
        await dispatcher.scan_once()
        await dispatcher.idle()
        sim.skip(STEP)
        await pool.execute("UPDATE orders SET last_polled_at = NULL")
        counts.update(await jobs.status())
        open_now = await pool.fetchval("SELECT count(*) FROM orders WHERE settled_at IS NULL")
        if not open_now:
            return rounds, counts
        if open_now == open_before:
            counts["resolved"] += await _operator_settles_frozen(pool, sim)
        open_before = open_now
    raise RuntimeError(f"orders still open after {ROUNDS} rounds")


async def _operator_settles_frozen(pool: db.Database, sim: Simulator) -> int:
    frozen = await pool.fetch(
        "SELECT id, upstream_order_id FROM orders WHERE frozen IS NOT NULL AND settled_at IS NULL"
    )
    for row in frozen:
        upstream = sim.order(int(row["upstream_order_id"]))
        if upstream is None or not upstream.final:
            raise RuntimeError(f"frozen order {row['id']} is not final on the panel")
        await resolve.settle_frozen(
            pool,
            row["id"],
            upstream.status,
            upstream.remains,
            by=OPERATOR,
            loss_tolerance=TOLERANCE,
        )
    return len(frozen)


async def _outcome(pool: db.Database, sim: Simulator, rounds: int, counts: Counter[str]) -> Outcome:
    placed = {
        r["upstream_order_id"]: r["paid"]
        for r in await pool.fetch(
            "SELECT upstream_order_id, charge * currency_rate AS paid FROM orders"
            " WHERE upstream_order_id IS NOT NULL"
        )
    }
    overlapped = [placed[str(o.id)] for o in sim.overlapped()]
    bad = await pool.fetchrow(BAD_REMAINS)
    unnoticed = await pool.fetchrow(UNNOTICED_OVERCHARGE)
    losses = {r["kind"]: (r["orders"], r["amount"]) for r in await pool.fetch(LOSSES)}
    kept = (_kept_beyond_rate(sim, o) for o in sim.orders.values())
    return Outcome(
        placed=len(placed),
        rounds=rounds,
        overlapped=len(overlapped),
        overlapped_charge=sum(overlapped, Decimal(0)),
        frozen=counts["frozen"],
        resolved=counts["resolved"],
        bad_remains=(bad["orders"], bad["refunded"]),
        unnoticed=(unnoticed["orders"], unnoticed["amount"]),
        unrefunded=losses.get("unrefunded", (0, Decimal(0))),
        overcharged=losses.get("overcharged", (0, Decimal(0))),
        panel_kept=sum((k for k in kept if k > 0), Decimal(0)),
    )


def _kept_beyond_rate(sim: Simulator, order: SimOrder) -> Decimal:
    """The panel's own books: what it charged beyond its rate on what it delivered."""
    rate = sim.services[order.service].rate
    return order.current_charge - rate * (order.quantity - order.remains) / 1000


def _table(on: Outcome, off: Outcome, *, markdown: bool) -> str:
    def amount(value: Decimal) -> str:
        return money.format_amount(value)

    def found(pair: tuple[int, Decimal]) -> str:
        return f"{pair[0]} ({amount(pair[1])})"

    rows = [
        ("orders placed with the panel", str(on.placed), str(off.placed)),
        ("rounds of dispatch and polling", str(on.rounds), str(off.rounds)),
        ("underrun: ran beside another on one post", str(on.overlapped), str(off.overlapped)),
        ("  their charges, at risk", amount(on.overlapped_charge), amount(off.overlapped_charge)),
        ("answers outside the table, frozen on", str(on.frozen), str(off.frozen)),
        ("  frozen orders the operator settled", str(on.resolved), str(off.resolved)),
        (
            "settled on a remains outside it (refunds)",
            found(on.bad_remains),
            found(off.bad_remains),
        ),
        ("overcharges booked as cost unnoticed", found(on.unnoticed), found(off.unnoticed)),
        ("panel kept beyond its rate (its books)", amount(on.panel_kept), amount(off.panel_kept)),
        ("refunds it kept, found (amount)", found(on.unrefunded), found(off.unrefunded)),
        ("overcharges found (amount)", found(on.overcharged), found(off.overcharged)),
    ]
    header = ("", "safeguards on", "off (baseline)")
    if markdown:
        lines = [header, ("---", "---:", "---:"), *rows]
        return "\n".join("| " + " | ".join(r) + " |" for r in lines)
    lines = [header, *rows]
    widths = [max(len(r[i]) for r in lines) for i in range(3)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in lines)


if __name__ == "__main__":
    sys.exit(main())
