"""End-to-end order throughput across cores: `add` over HTTP → dispatch upstream → status sync →
Completed, through real `reseller serve --workers N` processes (with and without a separate
`reseller worker` doing dispatch and jobs) and the simulated panel in its own process (orders
complete at once).

Each run sends `add` calls from 32 connections for a fixed time (wrk, or an aiohttp client),
then waits until every order it got is placed upstream and Completed. Its baseline, measured in
the same round: the same load sent straight to the simulated panel — what the upstream alone
can take. Setups take turns within a round; each keeps its best round. Where each setup's CPU
went (the reseller's processes, the panel, PostgreSQL, the load generator) is read from /proc.

    python -m bench.e2e --seconds 4 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from bench import _cpu, _load, _procs, _seed
from reseller import customers, db, logs

PANEL_KEY = "bench-panel-key"
CONNECTIONS = 32
CUSTOMERS = 20  # the load rotates over them: one customer's row lock is not what is measured
MAX_RATE = 15_000  # adds/s no run reaches here: each line of a run's bodies is sent once
DRAIN_SECONDS = 60  # after the load, until every order is placed and Completed, at most
CONFIG = """
providers:
  - {{name: panel, url: "{url}", key_env: BENCH_PANEL_KEY, requests_per_minute: 1000000,
     max_concurrency: 32}}
dispatch: {{scan_seconds: 0.2}}
sync: {{status_seconds: 0.2, min_poll_seconds: 0.1, catalog_seconds: 3600}}
imports: [{{provider: panel, category: "*", first_id: 1}}]
"""


@dataclass(frozen=True, slots=True)
class Setup:
    label: str
    api_processes: int
    worker: bool  # a `reseller worker` dispatches and polls; `serve` answers the API only


@dataclass(frozen=True, slots=True)
class Run:
    orders: int  # accepted by the API (rows in the table)
    failed: int  # error answers, socket errors
    load_seconds: float
    placed_seconds: float  # from the first `add` until every order is placed upstream
    completed_seconds: float  # … until every one is Completed
    cpu: dict[str, float]  # CPU seconds by process group, over window_seconds
    window_seconds: float  # from just before the load until every order was Completed
    database: dict[str, float]  # the database's own counters over that window (reseller runs)

    @property
    def accepted_rate(self) -> float:
        return self.orders / self.load_seconds

    @property
    def placed_rate(self) -> float:
        return self.orders / self.placed_seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.e2e", description=__doc__.split(":")[0])
    parser.add_argument("--seconds", type=int, default=4, help="load per run (default 4)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--workers",
        default=",".join(str(n) for n in range(1, len(os.sched_getaffinity(0)) + 1)),
        help="API process counts to measure (default: 1 up to the cores)",
    )
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.workers.split(",")]
    setups = [Setup(f"serve --workers {n}", n, worker=False) for n in counts] + [
        Setup(f"serve --workers {n} --api-only + worker", n, worker=True) for n in counts
    ]
    logs.configure(level=logging.WARNING, to_stderr=True)
    load_average = os.getloadavg()[0]
    with (
        tempfile.TemporaryDirectory(prefix="bench-e2e-") as folder,
        _seed.database_server(Path(folder) / "pg") as (server_dsn, label),
    ):
        postmaster = _postmaster(Path(folder) / "pg")
        dsn = asyncio.run(_seed.create_database(server_dsn))
        try:
            panel, best = _rounds(dsn, Path(folder), setups, args, postmaster)
        finally:
            asyncio.run(_seed.drop_database(server_dsn, dsn))
    print(
        f"database: {label}; load: {_load.generator()}, {CONNECTIONS} connections, "
        f"{args.seconds} s a run; best of {args.rounds} rounds; load average at start "
        f"{load_average:.2f}, cores {len(os.sched_getaffinity(0))}"
    )
    _print(panel, best, setups)
    print(f"reproduce: python -m bench.e2e --seconds {args.seconds} --rounds {args.rounds}")
    return 0


def _postmaster(data_dir: Path) -> int | None:
    """The embedded server's postmaster, whose CPU the runs report; None for $RESELLER_DSN's."""
    lock = data_dir / "postmaster.pid"
    return int(lock.read_text().split("\n", 1)[0]) if lock.exists() else None


def _rounds(
    dsn: str, folder: Path, setups: list[Setup], args: argparse.Namespace, postmaster: int | None
) -> tuple[Run, dict[Setup, Run]]:
    panel_best: Run | None = None
    best: dict[Setup, Run] = {}
    # One panel for every round: a new one would number its orders from 1 again, and the
    # reseller would find upstream IDs it has already seen.
    with _panel(folder) as (panel_url, panel_pid):
        groups = {"panel": panel_pid} | ({"PostgreSQL": postmaster} if postmaster else {})
        for number in range(1, args.rounds + 1):
            bodies = _bodies(folder / "panel.bodies", [PANEL_KEY], args.seconds)
            panel = _measure(panel_url, bodies, args.seconds, groups, None)
            print(f"round {number}: panel alone {panel.accepted_rate:,.0f} adds/s", flush=True)
            if panel_best is None or panel.accepted_rate > panel_best.accepted_rate:
                panel_best = panel
            for setup in setups:
                run = _reseller(dsn, folder, setup, panel_url, args.seconds, groups)
                print(
                    f"round {number}: {setup.label}: {run.accepted_rate:,.0f} accepted/s, "
                    f"{run.placed_rate:,.0f} placed/s",
                    flush=True,
                )
                if setup not in best or run.placed_rate > best[setup].placed_rate:
                    best[setup] = run
    assert panel_best is not None
    return panel_best, best


@contextmanager
def _panel(folder: Path) -> Iterator[tuple[str, int]]:
    """A fresh simulated panel (its own process, any core): orders complete at once, and its
    balance outlasts every round."""
    port = _procs.free_port()
    argv = [sys.executable, "-m", "reseller", "simulate", "--port", str(port), "--key", PANEL_KEY]
    argv += ["--tick", "0", "--balance", "1000000000"]
    url = f"http://127.0.0.1:{port}/api/v2"
    with _procs.Server(argv, ready_url=url, log=folder / "panel.log", cpu=None) as panel:
        yield url, panel.pid


def _reseller(
    dsn: str, folder: Path, setup: Setup, panel_url: str, seconds: int, groups: dict[str, int]
) -> Run:
    (folder / "config.yaml").write_text(CONFIG.format(url=panel_url))
    os.environ.update(
        BENCH_PANEL_KEY=PANEL_KEY, RESELLER_DSN=dsn, RESELLER_CONFIG=str(folder / "config.yaml")
    )
    port = _procs.free_port()
    serve = [sys.executable, "-m", "reseller", "serve", "--port", str(port)]
    serve += ["--workers", str(setup.api_processes), *(["--api-only"] if setup.worker else [])]
    ready = f"http://127.0.0.1:{port}/readyz"
    with ExitStack() as stack:
        groups = dict(groups)
        if setup.worker:
            # It listens on nothing: the catalog its job imports from the panel (the API's
            # `services` below) is what says it runs.
            worker = [sys.executable, "-m", "reseller", "worker"]
            groups["worker"] = stack.enter_context(
                _procs.Server(worker, ready_url=None, log=folder / "worker.log", cpu=None)
            ).pid
        api = stack.enter_context(
            _procs.Server(serve, ready_url=ready, log=folder / "serve.log", cpu=None)
        )
        groups["serve"] = api.pid
        _wait_listening(port, setup.api_processes)
        url = f"http://127.0.0.1:{port}/api/v2"
        keys = asyncio.run(_customers(dsn, setup))
        asyncio.run(_procs.wait_for_catalog(url, keys[0]))
        bodies = _bodies(folder / "reseller.bodies", keys, seconds)
        run = _measure(url, bodies, seconds, groups, dsn)
    return run


def _wait_listening(port: int, count: int) -> None:
    """Until `count` processes listen on `port` (each `--workers` child binds its own socket):
    a load sent earlier would measure fewer processes than the row says."""
    hex_port = f":{port:04X}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        listening = 0
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            for line in Path(table).read_text().splitlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                listening += local.endswith(hex_port) and state == "0A"
        if listening >= count:
            return
        time.sleep(0.05)
    raise RuntimeError(f"{count} processes never listened on port {port}")


async def _customers(dsn: str, setup: Setup) -> list[str]:
    """Fresh customers for one run, rich and never rate-limited."""
    pool = await db.create_pool(dsn, min_size=1, max_size=2)
    try:
        keys = []
        for _ in range(CUSTOMERS):
            _, key = await customers.create(
                pool, f"bench-{time.monotonic_ns()}", balance=Decimal(10**9), rate_limit=10**9
            )
            keys.append(key)
    finally:
        await pool.close()
    return keys


def _bodies(path: Path, keys: list[str], seconds: int) -> Path:
    """One `add` form per line, each with a link of its own: a link with an active order on
    the same service would wait for it, not go out. More lines than a run can send."""
    stamp = time.monotonic_ns()
    lines = (
        f"key={keys[n % len(keys)]}&action=add&service=1&quantity=100"
        f"&link=https%3A%2F%2Fig.com%2Fe2e-{stamp}-{n}\n"
        for n in range(seconds * MAX_RATE)
    )
    path.write_text("".join(lines))
    return path


def _measure(url: str, bodies: Path, seconds: int, groups: dict[str, int], dsn: str | None) -> Run:
    """The load, then (with `dsn`, the reseller's) the wait until every order it made is placed
    and Completed; CPU by group over the load and the wait for placement."""
    first_id = asyncio.run(_last_order_id(dsn)) if dsn else 0
    database_before = asyncio.run(_database_counters(dsn)) if dsn else {}
    cpu_before = {name: _cpu.tree_seconds(pid) for name, pid in groups.items()}
    load_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    machine_before = _cpu.machine_seconds()
    window_start = time.perf_counter()
    measured = _load.burst(url, bodies, CONNECTIONS, seconds)
    # The load's own clock: wrk reads its bodies before it starts it.
    started = time.perf_counter() - measured.seconds
    if measured.requests >= seconds * MAX_RATE:
        raise RuntimeError("the run sent every body: links repeated, raise MAX_RATE")
    orders, placed_at, completed_at = measured.requests, measured.seconds, measured.seconds
    if dsn:
        orders, placed_at, completed_at = asyncio.run(_follow(dsn, first_id, started))
    cpu = {name: _cpu.tree_seconds(pid) - cpu_before[name] for name, pid in groups.items()}
    window = time.perf_counter() - window_start
    database = {}
    if dsn:
        after = asyncio.run(_database_counters(dsn))
        database = {name: after[name] - database_before[name] for name in after}
    load_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu["load"] = (load_after.ru_utime + load_after.ru_stime) - (
        load_before.ru_utime + load_before.ru_stime
    )
    busy, everything = _cpu.machine_seconds()
    cpu["machine"] = busy - machine_before[0]
    cpu["machine capacity"] = everything - machine_before[1]
    return Run(
        orders, measured.failed, measured.seconds, placed_at, completed_at, cpu, window, database
    )


async def _last_order_id(dsn: str) -> int:
    async with db.connection(dsn) as conn:
        return int(await conn.fetchval("SELECT coalesce(max(id), 0) FROM orders"))


async def _database_counters(dsn: str) -> dict[str, float]:
    """Commits, WAL bytes and table rows read so far (this database's; WAL is the server's).
    The statistics lag a commit by up to `stats_fetch_consistency`'s snapshot: read fresh."""
    async with db.connection(dsn) as conn:
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        row = await conn.fetchrow(
            "SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database())"
            " AS commits, pg_current_wal_lsn() - '0/0'::pg_lsn AS wal,"
            " (SELECT sum(coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0))"
            " FROM pg_stat_user_tables) AS rows_read"
        )
    return {name: float(value) for name, value in row.items()}


async def _follow(dsn: str, first_id: int, started: float) -> tuple[int, float, float]:
    """Orders after `first_id`: how many, and the seconds from `started` until every one was
    placed upstream, and Completed. The load has ended: the count no longer grows."""
    placed_at = None
    deadline = time.monotonic() + DRAIN_SECONDS
    async with db.connection(dsn) as conn:
        while time.monotonic() < deadline:
            total, placed, completed = await conn.fetchrow(
                "SELECT count(*), count(*) FILTER (WHERE dispatch_state = 'placed'),"
                " count(*) FILTER (WHERE status = 'Completed') FROM orders WHERE id > $1",
                first_id,
            )
            if placed_at is None and placed >= total:
                placed_at = time.perf_counter() - started
            if completed >= total:
                assert placed_at is not None
                return int(total), placed_at, time.perf_counter() - started
            await asyncio.sleep(0.05)
    raise RuntimeError(f"orders still open {DRAIN_SECONDS} s after the load ended")


def _print(panel: Run, best: dict[Setup, Run], setups: list[Setup]) -> None:
    print()
    print(
        "| setup | orders | failed | accepted/s | placed/s | placed → all Completed s | "
        "placed / panel alone |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    print(
        f"| simulated panel alone (baseline) | {panel.orders:,} | {panel.failed} | "
        f"{panel.accepted_rate:,.0f} | – | – | 1.00 |"
    )
    for setup in setups:
        run = best[setup]
        print(
            f"| {setup.label} | {run.orders:,} | {run.failed} | {run.accepted_rate:,.0f} | "
            f"{run.placed_rate:,.0f} | {run.completed_seconds - run.placed_seconds:.2f} | "
            f"{run.placed_rate / panel.accepted_rate:.2f} |"
        )
    _print_scaling(best, setups)
    print()
    print(
        "The database per order, same window (commits of this database, the server's WAL, "
        "rows its tables were read for):"
    )
    print()
    print("| setup | commits/order | WAL KB/order | rows read/order |")
    print("|---|---:|---:|---:|")
    for setup in setups:
        run = best[setup]
        figures = run.database
        print(
            f"| {setup.label} | {figures['commits'] / run.orders:.1f} | "
            f"{figures['wal'] / 1024 / run.orders:.1f} | {figures['rows_read'] / run.orders:,.0f} |"
        )
    print()
    print(
        "Where the cores went, from the load's start until every order was Completed (CPU "
        "seconds per wall second, 1.00 = one core busy; in brackets ms of CPU per order):"
    )
    print()
    names = ["serve", "worker", "panel", "PostgreSQL", "load"]
    print("| setup | " + " | ".join(names) + " | machine busy (of cores) |")
    print("|---|" + "---:|" * (len(names) + 1))
    runs = [("simulated panel alone", panel)] + [(s.label, best[s]) for s in setups]
    for label, run in runs:
        wall = run.window_seconds
        cells = [
            f"{run.cpu[name] / wall:.2f} ({run.cpu[name] * 1000 / run.orders:.2f} ms)"
            if name in run.cpu
            else "–"
            for name in names
        ]
        cores = run.cpu["machine capacity"] / wall
        print(
            f"| {label} | " + " | ".join(cells) + f" | {run.cpu['machine'] / wall:.2f} of "
            f"{cores:.0f} |"
        )


def _print_scaling(best: dict[Setup, Run], setups: list[Setup]) -> None:
    """Each setup with N API processes against the same setup with one, where both ran."""
    pairs = [
        (one, setup)
        for setup in setups
        for one in setups
        if one.worker == setup.worker and one.api_processes == 1 < setup.api_processes
    ]
    if not pairs:
        return
    print()
    print("Scaling, from 1 API process to N (same setup, best rounds):")
    print()
    print("| setup | N | accepted/s ×N / ×1 | placed/s ×N / ×1 |")
    print("|---|---:|---:|---:|")
    for one, setup in pairs:
        kind = "API only + worker" if setup.worker else "serve (API + dispatch + jobs)"
        print(
            f"| {kind} | {setup.api_processes} | "
            f"{best[setup].accepted_rate / best[one].accepted_rate:.2f} | "
            f"{best[setup].placed_rate / best[one].placed_rate:.2f} |"
        )


if __name__ == "__main__":
    sys.exit(main())
