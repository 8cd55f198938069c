"""Throughput and latency of `POST /api/v2` over loopback, each against a limit from the same run.

    python -m bench.api [--markdown] [--durable] [--only WORKLOAD …]

Two cores: the app (`create_app`, served as `reseller serve` serves it, in its own process) on
one, the load generator (wrk, or an aiohttp client when wrk is absent) on the other; PostgreSQL
floats. The database is `$RESELLER_DSN`'s server, else an embedded one in a temporary folder;
either way a fresh database is created, seeded, and dropped at the end. A run takes about two
and a half minutes. `--durable` starts the embedded server as PostgreSQL ships, fsync and
synchronous_commit on (with $RESELLER_DSN, that server must be so), where one hot customer's
adds wait on WAL flushes; `--only` measures some workloads only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path

from aiohttp import web

from bench import _limits, _load, _procs, _seed
from reseller import db, logs
from reseller.api.app import create_app
from reseller.config import Config

P99_TARGET_MS = 50.0


@dataclass(frozen=True, slots=True)
class Bench:
    name: str  # a format string over `_seed.Sizes`' fields
    workload: str  # a key of the bodies `_seed.seed` writes
    action: str  # what the SQL-only limit runs: the handler's queries for this action
    target: float  # the app's req/s as a share of its limit's


SQL_BENCHES = (
    Bench("status, 100 IDs of {orders:,} orders", "status", "status", 0.75),
    Bench("add, {customers:,} customers", "add_spread", "add", 0.70),
    Bench("add, one hot customer", "add_hot", "add", 0.85),
)
SERVICES_TARGET = 0.90
WORKLOADS = ("services", *(bench.workload for bench in SQL_BENCHES))


@dataclass(frozen=True, slots=True)
class Turns:
    """App and limit measured in turns: their median rounds, and the median of each round's
    app/limit ratio."""

    app: _load.Measured
    limit: _load.Measured
    ratio: float


@dataclass(frozen=True, slots=True)
class Row:
    bench: str
    turns: Turns
    target: float
    note: str = ""  # printed under the table

    @property
    def app(self) -> _load.Measured:
        return self.turns.app

    @property
    def limit(self) -> _load.Measured:
        return self.turns.limit

    @property
    def ratio(self) -> float:
        return self.turns.ratio

    @property
    def verdict(self) -> str:
        failed = self.app.failed + self.limit.failed
        if failed:
            return f"no: {failed} failed requests"
        met = self.ratio >= self.target and self.app.p99_ms < P99_TARGET_MS
        return "yes" if met else "no"

    def cells(self) -> list[str]:
        return [
            self.bench,
            f"{self.app.rate:,.0f}",
            f"{self.app.p50_ms:.2f}",
            f"{self.app.p99_ms:.2f}",
            f"{self.limit.rate:,.0f}",
            f"{self.ratio * 100:.0f}",
            f"≥ {self.target * 100:.0f} %, p99 < {P99_TARGET_MS:.0f} ms",
            self.verdict,
        ]


HEADER = ["bench", "req/s", "p50 ms", "p99 ms", "limit req/s", "ratio %", "target", "met?"]


def run(args: argparse.Namespace) -> int:
    settings = _load.Settings(args.connections, args.warmup, args.duration)
    sizes = _seed.Sizes(args.services, args.customers, args.orders)
    busy = os.getloadavg()[0]
    with (
        tempfile.TemporaryDirectory(prefix="rbench-") as tmp,
        _seed.seeded_database(sizes, Path(tmp), durable=args.durable) as (dsn, bodies, database),
    ):
        durability = asyncio.run(_durability(dsn))  # the server's settings, checked once seeded
        if args.durable and durability != "fsync on, synchronous_commit on":
            raise SystemExit(f"--durable: {database} has {durability}")
        rows = _measure_all(dsn, bodies, sizes, settings, args, Path(tmp))
    print(_table(rows, markdown=args.markdown))
    print()
    for row in rows:
        if row.note:
            print(f"{row.bench}: {row.note}")
    print(f"load generator: {_load.generator()}; {settings.connections} connections;")
    print(
        f"{settings.warmup} s warm-up then {settings.duration} s measured, {args.rounds} rounds"
        " of app and limit in turns; rates: the median round; ratio: the median round ratio;"
    )
    print(
        f"database: {database}, {durability}; cores: {os.cpu_count()};"
        f" load average at start: {busy:.2f}"
    )
    print(f"reproduce: {_command(args)}")
    return 0


async def _durability(dsn: str) -> str:
    async with db.connection(dsn) as conn:
        fsync = await conn.fetchval("SHOW fsync")
        synchronous_commit = await conn.fetchval("SHOW synchronous_commit")
    return f"fsync {fsync}, synchronous_commit {synchronous_commit}"


Measure = Callable[[], _load.Measured]


def _measure_all(
    dsn: str,
    bodies: dict[str, Path],
    sizes: _seed.Sizes,
    settings: _load.Settings,
    args: argparse.Namespace,
    folder: Path,
) -> list[Row]:
    rounds, only = args.rounds, set(args.only or WORKLOADS)
    port = _procs.free_port()
    url = f"http://127.0.0.1:{port}/api/v2"
    app_argv = _procs.python_argv(
        "serve-app",
        dsn,
        f"--port={port}",
        f"--services={sizes.services}",
        f"--pool-size={settings.connections}",
    )
    with _procs.Server(app_argv, f"http://127.0.0.1:{port}/healthz", folder / "app.log"):
        rows = []
        if "services" in only:
            rows += _services(url, bodies, sizes, settings, rounds, folder)
        for bench in (b for b in SQL_BENCHES if b.workload in only):
            workload = bodies[bench.workload]
            _preflight(url, workload)
            turns = _alternate(
                partial(_load.http, url, workload, settings, check_bodies=True),
                partial(_sql_limit, dsn, bench.action, workload, settings),
                rounds,
            )
            rows.append(Row(bench.name.format(**asdict(sizes)), turns, bench.target))
    return rows


def _services(
    url: str,
    bodies: dict[str, Path],
    sizes: _seed.Sizes,
    settings: _load.Settings,
    rounds: int,
    folder: Path,
) -> list[Row]:
    """Two rows: the price list's customers, and as many spread over the price groups (each
    group, and each customer with prices of its own, served its own cached answer)."""
    listed = _preflight(url, bodies["services"])
    if len(json.loads(listed)) != sizes.services:
        raise RuntimeError(f"`services` did not list {sizes.services} services")
    grouped = _grouped_answers(url, bodies["services_groups"], listed)
    distinct = set(grouped.values())
    sizes_kb = sorted(len(answer) / 1000 for answer in distinct)
    mean = sum(map(len, grouped.values())) / len(grouped)
    note = (
        f"{len(distinct)} distinct answers of {sizes_kb[0]:.0f}–{sizes_kb[-1]:.0f} KB"
        f" (mean {mean / 1000:.0f} KB); the limit answers each key the same bytes"
    )
    listed_name = f"services, {sizes.services:,} services"
    grouped_name = f"services, {_seed.PRICE_GROUPS} groups × {sizes.customers:,} customers"
    every_key = {_load.key_of(line): listed for line in bodies["services"].read_text().splitlines()}
    return [
        _against_bare(listed_name, url, bodies["services"], every_key, settings, rounds, folder),
        _against_bare(
            grouped_name,
            url,
            bodies["services_groups"],
            grouped,
            settings,
            rounds,
            folder,
            note=note,
        ),
    ]


def _grouped_answers(url: str, bodies: Path, listed: bytes) -> dict[str, bytes]:
    """Every grouped customer's answer by key, asked by hand: each must list services and
    differ from the price list's, or the row would measure groups silently priced as the
    list."""
    answers = {}
    for line in bodies.read_text().splitlines():
        answer = _load.ask(url, line)
        if answer == listed or not json.loads(answer):
            why = "the price list's answer" if answer == listed else "no services"
            raise RuntimeError(f"{line[:80]}… (a customer in a price group) got {why}")
        answers[_load.key_of(line)] = answer
    return answers


def _against_bare(
    name: str,
    url: str,
    bodies: Path,
    answers: dict[str, bytes],
    settings: _load.Settings,
    rounds: int,
    folder: Path,
    *,
    note: str = "",
) -> Row:
    """The app's `services`, rotating over `bodies`, against a bare handler answering each
    key what the app answered it (`answers`), the same way."""
    with _limits.bare_handler(answers, folder, bodies.stem) as bare_url:
        # Answers of 100-200 KB: having wrk copy each into Lua to check it would load the load
        # core; the preflight checked them, and any non-2xx answer still counts as failed.
        turns = _alternate(
            partial(_load.http, url, bodies, settings, check_bodies=False),
            partial(_load.http, bare_url, bodies, settings, check_bodies=False),
            rounds,
        )
    return Row(name, turns, SERVICES_TARGET, note)


def _alternate(app: Measure, limit: Measure, rounds: int) -> Turns:
    """`rounds` rounds of app then limit (then limit then app: neither always goes first). The
    ratio is the median of the rounds' own ratios: on this shared machine the same server's
    rate moved by 70 % within two minutes, a few seconds apart it moves little."""
    apps: list[_load.Measured] = []
    limits: list[_load.Measured] = []
    for turn in range(rounds):
        for measure, runs in [(app, apps), (limit, limits)][:: 1 if turn % 2 == 0 else -1]:
            runs.append(measure())
    ratios = [a.rate / b.rate for a, b in zip(apps, limits, strict=True)]
    return Turns(_median(apps), _median(limits), statistics.median(ratios))


def _median(runs: list[_load.Measured]) -> _load.Measured:
    # A failure in any round must show, not only the median round's.
    middle = sorted(runs, key=lambda m: m.rate)[len(runs) // 2]
    return replace(middle, failed=sum(m.failed for m in runs))


def _preflight(url: str, bodies: Path, count: int = 3) -> bytes:
    """A few requests by hand first, so that a broken setup fails here rather than measures
    error answers at full speed; returns the last answer."""
    answer = b""
    for line in bodies.read_text().splitlines()[:count]:
        answer = _load.ask(url, line)
    return answer


def _sql_limit(dsn: str, action: str, bodies: Path, settings: _load.Settings) -> _load.Measured:
    argv = _procs.python_argv("sql-limit", dsn, action, str(bodies), *_load.options(settings))
    timeout = settings.warmup + settings.duration + 60
    return _load.Measured.from_json(_procs.run(argv, cpu=_procs.SERVER_CPU, timeout=timeout))


def _table(rows: Sequence[Row], *, markdown: bool) -> str:
    lines = [HEADER, *(row.cells() for row in rows)]
    if markdown:
        rule = ["---"] + ["---:"] * 5 + ["---", "---"]
        return "\n".join("| " + " | ".join(cells) + " |" for cells in [HEADER, rule, *lines[1:]])
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADER))]
    padded = ("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) for cells in lines)
    return "\n".join(line.rstrip() for line in padded)


def _command(args: argparse.Namespace) -> str:
    options = [
        f"--connections {args.connections}",
        f"--warmup {args.warmup}",
        f"--duration {args.duration}",
        f"--services {args.services}",
        f"--customers {args.customers}",
        f"--orders {args.orders}",
        f"--rounds {args.rounds}",
        *(["--durable"] * args.durable),
        *(f"--only {workload}" for workload in args.only or ()),
    ]
    return " ".join(["python -m bench.api", *options, *(["--markdown"] * args.markdown)])


# --- the child processes ---


def serve_app(args: argparse.Namespace) -> int:
    """The API as `reseller serve` runs it (same app, logging, runner and loop policy), without
    the order dispatcher `serve` adds: the figures are the API's, not upstream calls'."""
    logs.configure()
    config = _seed.config(args.services, args.pool_size)
    app = _app(args.dsn, config)
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None)
    return 0


async def _app(dsn: str, config: Config) -> web.Application:
    pool = await db.create_pool(
        dsn, min_size=config.database.pool_min, max_size=config.database.pool_max
    )

    async def close_pool(app: web.Application) -> None:
        await pool.close()

    app = create_app(config, pool=pool)
    app.on_cleanup.append(close_pool)  # after the app's own cleanup, which still uses the pool
    return app


def serve_bare(args: argparse.Namespace) -> int:
    _limits.serve_bare(args.port, Path(args.body))
    return 0


def sql_limit(args: argparse.Namespace) -> int:
    measured = asyncio.run(
        _limits.sql_only(args.dsn, args.action, _lines(args.bodies), _settings(args))
    )
    print(measured.to_json())
    return 0


def load(args: argparse.Namespace) -> int:
    measured = asyncio.run(
        _load.aiohttp_load(args.url, _lines(args.bodies), _settings(args), check=args.check)
    )
    print(measured.to_json())
    return 0


def _lines(path: str) -> list[str]:
    return Path(path).read_text().splitlines()


def _settings(args: argparse.Namespace) -> _load.Settings:
    return _load.Settings(args.connections, args.warmup, args.duration)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__.split("\n")[0])
    _load_arguments(parser)
    parser.add_argument("--services", type=int, default=1000, help="services in the catalog")
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5, help="rounds of app and limit in turns")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument(
        "--durable",
        action="store_true",
        help="the embedded server with fsync and synchronous_commit on, as PostgreSQL ships",
    )
    parser.add_argument(
        "--only", action="append", choices=WORKLOADS, help="this workload only (repeatable)"
    )
    parser.set_defaults(command=run)
    internal = parser.add_subparsers(title="internal (child processes)")

    app = internal.add_parser("serve-app")
    app.add_argument("dsn")
    app.add_argument("--port", type=int, required=True)
    app.add_argument("--services", type=int, required=True)
    app.add_argument("--pool-size", type=int, required=True)
    app.set_defaults(command=serve_app)

    bare = internal.add_parser("serve-bare")
    bare.add_argument("body", help="JSON file: each key's answer")
    bare.add_argument("--port", type=int, required=True)
    bare.set_defaults(command=serve_bare)

    limit = internal.add_parser("sql-limit")
    limit.add_argument("dsn")
    limit.add_argument("action", choices=["status", "add"])
    limit.add_argument("bodies")
    _load_arguments(limit)
    limit.set_defaults(command=sql_limit)

    client = internal.add_parser("load")
    client.add_argument("url")
    client.add_argument("bodies")
    client.add_argument("--check", action="store_true", help="count API error answers")
    _load_arguments(client)
    client.set_defaults(command=load)
    return parser


def _load_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--connections", type=int, default=32, help="concurrent requests")
    parser.add_argument("--warmup", type=int, default=1, help="seconds, not measured")
    parser.add_argument("--duration", type=int, default=3, help="seconds measured")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return int(args.command(args))


if __name__ == "__main__":
    sys.exit(main())
