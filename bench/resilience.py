"""A legitimate customer's latency under hostile traffic, and recovery from a database crash.

    python -m bench.resilience [--markdown]

One `reseller serve` with its embedded PostgreSQL (in a temporary folder, `RESELLER_DATA_DIR`;
`RESELLER_DSN` is ignored: the bench kills that server), pinned with it to one core; a simulated
panel as its provider. The customer sends `balance` at a steady pace, a fresh connection per
request, (1) alone: the baseline, (2) beside a flood of random API keys from one client address,
then from a fresh address each request, (3) beside idle connections and slow ones trickling a
header or a body. Then (4) its `add` orders stream in while the postmaster is SIGKILLed; the
bench times how long until it is answered normally again, and checks that every acknowledged
order exists exactly once and nothing else was charged. About 2 minutes, 2 min 10 s when the
database does not come back (the bench then waits --bound seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench import _customer, _hostile, _load, _outage, _procs
from reseller import customers, db, logs
from reseller.embedded_pg import EmbeddedPostgres

PANEL_KEY = "bench-panel-key"
RATE_LIMIT = 1_000_000_000  # the customers' own limit must never be what answers them
OPENING = Decimal(1_000_000)
IDLE_TIMEOUT, BODY_TIMEOUT, MAX_CONNECTIONS = 15, 10, 1000
FAILED_AUTH_PER_MINUTE, EMBEDDED_RESTART = 60, 60
CONFIG = """
server:
  idle_timeout_seconds: {idle_timeout}
  body_timeout_seconds: {body_timeout}
  max_connections: {max_connections}
  metrics_port: {metrics_port}
database:
  embedded_restart_seconds: {embedded_restart}
api:
  failed_auth_per_minute: {failed_auth}
  client_address_header: {header}
providers:
  - {{name: panel, url: "{url}", key_env: BENCH_PANEL_KEY, requests_per_minute: 1000000,
     max_concurrency: 32}}
dispatch: {{scan_seconds: 0.2}}
imports: [{{provider: panel, category: "*", first_id: 1}}]
"""


@dataclass(frozen=True, slots=True)
class Row:
    scenario: str
    customer: _load.Measured
    load: str
    effect: str  # what the server did with the hostile traffic
    rss_mb: float  # the serving process's resident memory at the end


@dataclass(frozen=True, slots=True)
class Keys:
    probe: str
    orders: str
    orders_id: int


def run(args: argparse.Namespace) -> int:
    logs.configure(level=logging.WARNING, to_stderr=True)
    busy = os.getloadavg()[0]
    if os.environ.pop("RESELLER_DSN", None):
        print("RESELLER_DSN ignored: the bench kills its own embedded PostgreSQL", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="bench-resilience-") as folder:
        rows, outage, books = _run(args, Path(folder))
    markdown = args.markdown
    print(_latency_table(rows, markdown=markdown))
    print()
    print(_outage_table(args, outage, books, markdown=markdown))
    print()
    print(
        f"server: idle_timeout_seconds {IDLE_TIMEOUT}, body_timeout_seconds {BODY_TIMEOUT}, "
        f"max_connections {MAX_CONNECTIONS}; api: failed_auth_per_minute "
        f"{FAILED_AUTH_PER_MINUTE}, client_address_header {_hostile.ADDRESS_HEADER}; "
        f"database: embedded_restart_seconds {EMBEDDED_RESTART}"
    )
    print(
        f"customer: balance at {args.probe_rate:g}/s, a fresh connection each; "
        f"{args.duration} s measured after {args.warmup} s of hostile load alone"
    )
    print(
        f"reseller serve and its embedded PostgreSQL on CPU {_procs.SERVER_CPU}, hostile "
        f"clients on CPU {_procs.LOAD_CPU}; cores: {os.cpu_count()}; "
        f"load average at start: {busy:.2f}"
    )
    print(f"reproduce: {_command(args)}")
    return 0 if books.holds else 1


def _run(args: argparse.Namespace, folder: Path) -> tuple[list[Row], _outage.Outage, _outage.Books]:
    panel_port, port = _procs.free_port(), _procs.free_port()
    panel_url = f"http://127.0.0.1:{panel_port}/api/v2"
    panel = [sys.executable, "-m", "reseller.simulator", "--port", str(panel_port)]
    panel += ["--key", PANEL_KEY, "--tick", "0"]
    cluster = folder / "data" / "postgres"
    with _procs.Server(panel, ready_url=panel_url, log=folder / "panel.log"):
        _configure(folder, panel_url)
        serve_argv = [sys.executable, "-m", "reseller", "serve", "--port", str(port)]
        ready = f"http://127.0.0.1:{port}/readyz"
        with _procs.Server(serve_argv, ready_url=ready, log=folder / "serve.log") as serve:
            keys = _customers(cluster)
            url = f"http://127.0.0.1:{port}/api/v2"
            asyncio.run(_procs.wait_for_catalog(url, keys.probe))
            rows = _latencies(args, url, port, keys.probe, serve.pid)
            load = _outage.Load(
                args.kill_clients, args.kill_rate, args.before_kill, args.bound, args.settle
            )
            outage = asyncio.run(_outage.kill_under_load(url, keys.orders, serve, cluster, load))
            serve.stop()
    books = _outage.check_books(cluster, keys.orders_id, OPENING, outage.answers)
    return rows, outage, books


def _configure(folder: Path, panel_url: str) -> None:
    config = folder / "config.yaml"
    config.write_text(
        CONFIG.format(
            idle_timeout=IDLE_TIMEOUT,
            body_timeout=BODY_TIMEOUT,
            max_connections=MAX_CONNECTIONS,
            metrics_port=_procs.free_port(),
            embedded_restart=EMBEDDED_RESTART,
            failed_auth=FAILED_AUTH_PER_MINUTE,
            header=_hostile.ADDRESS_HEADER,
            url=panel_url,
        )
    )
    os.environ.update(
        BENCH_PANEL_KEY=PANEL_KEY,
        RESELLER_CONFIG=str(config),
        RESELLER_DATA_DIR=str(folder / "data"),
    )


def _customers(cluster: Path) -> Keys:
    """Two customers on the cluster `reseller serve` runs: one probes, one places orders."""
    dsn = EmbeddedPostgres(cluster).start()  # attaches to the running server, owns nothing
    return asyncio.run(_create_customers(dsn))


async def _create_customers(dsn: str) -> Keys:
    pool = await db.create_pool(dsn, min_size=1, max_size=1)
    try:
        _, probe = await customers.create(pool, "resilience-probe", balance=Decimal(1))
        orders, key = await customers.create(pool, "resilience-orders", balance=OPENING)
        await pool.execute("UPDATE customers SET rate_limit_per_minute = $1", RATE_LIMIT)
    finally:
        await pool.close()
    return Keys(probe, key, orders.id)


# --- (1)-(3): the customer's latency beside hostile traffic ---


def _latencies(args: argparse.Namespace, url: str, port: int, key: str, pid: int) -> list[Row]:
    probe = _Probe(url, key, args.probe_rate)
    quiet = asyncio.run(probe.measure(args.duration))
    rows = [Row("quiet", quiet, "none", "", _rss_mb(pid))]
    warmup = args.warmup
    for fresh, name in ((False, "one address"), (True, "a fresh address per request")):
        argv = _child("flood", url, f"--clients={args.flood_clients}")
        argv += [f"--seconds={warmup + args.duration}", *(["--fresh-address"] * fresh)]
        hostile = _Hostile(argv, warmup + args.duration)
        measured, answers = asyncio.run(hostile.beside(warmup, probe.measure(args.duration)))
        load = f"{args.flood_clients} clients, random keys from {name}"
        rows.append(Row(f"key flood, {name}", measured, load, _flood_effect(answers), _rss_mb(pid)))
    argv = _child("hold", "127.0.0.1", str(port), f"--idle={args.idle}", f"--slow={args.slow}")
    argv += [f"--trickle={args.trickle}", f"--seconds={warmup + args.hold}"]
    hostile = _Hostile(argv, warmup + args.hold)
    measured, held = asyncio.run(hostile.beside(warmup, probe.measure(args.hold)))
    slow = f"{args.slow - args.slow // 2} slow headers + {args.slow // 2} slow bodies"
    load = f"{args.idle} idle + {slow}, a byte every {args.trickle:g} s, {warmup + args.hold} s"
    rows.append(Row("idle and slow connections", measured, load, _held_effect(held), _rss_mb(pid)))
    return rows


class _Probe:
    def __init__(self, url: str, key: str, rate: float) -> None:
        self._url = url
        self._form = {"key": key, "action": "balance"}
        self._rate = rate

    async def measure(self, seconds: float) -> _load.Measured:
        answers: list[_customer.Answer] = []
        end = time.perf_counter() + seconds
        await _customer.paced(
            self._url,
            itertools.repeat(self._form),
            rate=self._rate,
            keep_going=lambda: time.perf_counter() < end,
            headers={_hostile.ADDRESS_HEADER: _hostile.CUSTOMER_ADDRESS},
            into=answers,
        )
        return _customer.measured(answers, "balance", seconds)


@dataclass(frozen=True, slots=True)
class _Hostile:
    argv: list[str]  # a child process that stops by itself after `seconds`, printing JSON
    seconds: float

    async def beside(
        self, warmup: float, probe: Awaitable[_load.Measured]
    ) -> tuple[_load.Measured, Any]:
        """The probe's figures, measured after `warmup` s of the hostile load alone; and the
        hostile child's own report."""
        child = asyncio.ensure_future(
            asyncio.to_thread(_procs.run, self.argv, cpu=_procs.LOAD_CPU, timeout=self.seconds + 60)
        )
        await asyncio.sleep(warmup)
        measured = await probe
        return measured, json.loads(await child)


def _child(*args: str) -> list[str]:
    return [sys.executable, "-m", "bench.resilience", *args]


def _flood_effect(flooded: dict[str, Any]) -> str:
    answers = Counter(flooded["answers"])
    total = answers.total()
    shares = ", ".join(f"{kind} {count / total:.0%}" for kind, count in answers.most_common())
    return f"{total / flooded['seconds']:,.0f} req/s, answered {shares}"


def _held_effect(held: dict[str, dict[str, Any]]) -> str:
    parts = []
    for kind, seen in held.items():
        part = f"{kind} {seen['closed']}/{seen['opened']}"
        if seen["median_close_s"] is not None:
            part += f" (median {seen['median_close_s']:.1f} s"
            answers = ", ".join(f"{line} ×{n}" for line, n in seen["answers"].items())
            part += f"; {answers})" if answers else ")"
        parts.append(part)
    return "closed by the server: " + ", ".join(parts)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# --- the tables ---


def _latency_table(rows: list[Row], *, markdown: bool) -> str:
    quiet = rows[0].customer
    header = ["scenario", "customer requests", "failed", "p50 ms", "p99 ms", "p50 ×", "p99 ×"]
    header += ["hostile load", "what the server did", "serve RSS MB"]
    cells = [
        [
            row.scenario,
            f"{row.customer.requests:,}",
            f"{row.customer.failed:,}",
            f"{row.customer.p50_ms:.2f}",
            f"{row.customer.p99_ms:.2f}",
            f"{row.customer.p50_ms / quiet.p50_ms:.2f}",
            f"{row.customer.p99_ms / quiet.p99_ms:.2f}",
            row.load,
            row.effect or "—",
            f"{row.rss_mb:.0f}",
        ]
        for row in rows
    ]
    return _table(header, cells, numeric={1, 2, 3, 4, 5, 6, 9}, markdown=markdown)


def _outage_table(
    args: argparse.Namespace, outage: _outage.Outage, books: _outage.Books, *, markdown: bool
) -> str:
    if outage.recovered_after is not None:
        recovery = f"{outage.recovered_after:.2f} s"
    elif outage.serve_exit is not None:
        recovery = f"no: reseller serve exited with {outage.serve_exit}"
    else:
        recovery = f"not recovered within {args.bound:g} s"
    balance = f"{books.balance:,.2f}"
    if not books.holds:
        balance += f" (ledger {books.ledger:,.2f}, expected {books.expected_balance:,.2f})"
    header = ["postmaster SIGKILLed under", "answered normally again after"]
    header += ["failed answers after the kill", "orders acknowledged", "found once", "lost"]
    header += ["doubled", "unanswered (order made)", "order made despite an error", "balance"]
    header += ["books hold?"]
    cells = [
        [
            f"{args.kill_clients} clients × {args.kill_rate:g} adds/s",
            recovery,
            f"{outage.failed_after_kill.total():,}",
            f"{books.acknowledged:,}",
            f"{books.found_once:,}",
            f"{books.lost:,}",
            f"{books.doubled:,}",
            f"{books.unanswered:,} ({books.charged_unanswered:,})",
            f"{books.charged_after_error:,}",
            balance,
            "yes" if books.holds else "no",
        ]
    ]
    table = _table(header, cells, numeric={2, 3, 4, 5, 6, 8}, markdown=markdown)
    said = ", ".join(f"{kind} ×{n:,}" for kind, n in outage.failed_after_kill.most_common())
    return f"{table}\n\nfailed answers after the kill: {said or 'none'}"


def _table(header: list[str], rows: list[list[str]], *, numeric: set[int], markdown: bool) -> str:
    if markdown:
        rule = ["---:" if i in numeric else "---" for i in range(len(header))]
        return "\n".join("| " + " | ".join(cells) + " |" for cells in [header, rule, *rows])
    lines = [header, *rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    padded = ("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) for cells in lines)
    return "\n".join(line.rstrip() for line in padded)


def _command(args: argparse.Namespace) -> str:
    options = [
        f"--duration {args.duration}",
        f"--warmup {args.warmup}",
        f"--probe-rate {args.probe_rate:g}",
        f"--flood-clients {args.flood_clients}",
        f"--idle {args.idle}",
        f"--slow {args.slow}",
        f"--trickle {args.trickle:g}",
        f"--hold {args.hold}",
        f"--kill-clients {args.kill_clients}",
        f"--kill-rate {args.kill_rate:g}",
        f"--before-kill {args.before_kill:g}",
        f"--bound {args.bound:g}",
        f"--settle {args.settle:g}",
    ]
    return " ".join(["python -m bench.resilience", *options, *(["--markdown"] * args.markdown)])


# --- the child processes ---


def flood(args: argparse.Namespace) -> int:
    answers = asyncio.run(
        _hostile.flood(args.url, args.clients, args.seconds, fresh_address=args.fresh_address)
    )
    print(json.dumps({"seconds": args.seconds, "answers": answers}))
    return 0


def hold(args: argparse.Namespace) -> int:
    held = asyncio.run(
        _hostile.hold(
            args.host,
            args.port,
            idle=args.idle,
            slow=args.slow,
            trickle=args.trickle,
            seconds=args.seconds,
        )
    )
    print(json.dumps(held))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.resilience", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--duration", type=int, default=10, help="seconds measured quiet and per flood"
    )
    parser.add_argument(
        "--warmup", type=int, default=2, help="seconds of hostile load before measuring"
    )
    parser.add_argument("--probe-rate", type=float, default=50, help="customer requests/s")
    parser.add_argument("--flood-clients", type=int, default=50, help="concurrent flood clients")
    parser.add_argument("--idle", type=int, default=500, help="idle connections")
    parser.add_argument("--slow", type=int, default=50, help="slow connections (half headers)")
    parser.add_argument("--trickle", type=float, default=3, help="seconds between slow bytes")
    parser.add_argument(
        "--hold",
        type=int,
        default=20,
        help=f"seconds measured beside idle and slow connections (> {IDLE_TIMEOUT}, the timeout)",
    )
    parser.add_argument("--kill-clients", type=int, default=8, help="clients placing orders")
    parser.add_argument("--kill-rate", type=float, default=20, help="adds/s per client")
    parser.add_argument("--before-kill", type=float, default=3, help="seconds of orders first")
    parser.add_argument(
        "--bound", type=float, default=60, help="seconds after the kill to wait for recovery"
    )
    parser.add_argument(
        "--settle", type=float, default=3, help="seconds of normal answers that mean recovered"
    )
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    parser.set_defaults(command=run)
    internal = parser.add_subparsers(title="internal (child processes)")

    flooder = internal.add_parser("flood")
    flooder.add_argument("url")
    flooder.add_argument("--clients", type=int, required=True)
    flooder.add_argument("--seconds", type=float, required=True)
    flooder.add_argument("--fresh-address", action="store_true")
    flooder.set_defaults(command=flood)

    holder = internal.add_parser("hold")
    holder.add_argument("host")
    holder.add_argument("port", type=int)
    holder.add_argument("--idle", type=int, required=True)
    holder.add_argument("--slow", type=int, required=True)
    holder.add_argument("--trickle", type=float, required=True)
    holder.add_argument("--seconds", type=float, required=True)
    holder.set_defaults(command=hold)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command: Callable[[argparse.Namespace], int] = args.command
    return command(args)


if __name__ == "__main__":
    sys.exit(main())
