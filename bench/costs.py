"""Where the API's time goes beyond its limit: the app's per-request features taken away one
after the other, each step's rate against the full app's.

    python -m bench.costs [--workload services] [--cycles 20] [--seconds 1] [--services 1000]

Each step is a copy of the source with one more feature cut out by a text edit (the edits are
below; one that no longer matches the source stops the bench). Every step's server and the full
app's (and for `services` the bare handler, `bench.api`'s limit) run at once, pinned to the
same core, each with a pool of 8 connections, and wrk loads one at a time, in turns of
`--seconds`: the machine's speed drifts over minutes, so a
step is compared with the full app in the same cycle, and the table shows the median of those
ratios. The cuts are for measuring only; the product keeps every one of these features.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from bench import _limits, _load, _procs, _seed

WORKLOADS = ("services", "status", "add_spread", "add_hot")


@dataclass(frozen=True, slots=True)
class Cut:
    file: str
    old: str
    new: str


MIDDLEWARE, V2, APP = "reseller/api/middleware.py", "reseller/api/v2.py", "reseller/api/app.py"
# (what the step takes away, its edits): each step keeps the previous steps' cuts.
STEPS: list[tuple[str, list[Cut]]] = [
    ("the request's log line", [
        Cut(MIDDLEWARE, '    log.info(\n        "request",', "    dict(\n"),
    ]),
    ("the request's metrics (counter, histogram)", [
        Cut(MIDDLEWARE, 'if request.path.startswith("/api/v2"):\n', "if False:\n"),
    ]),
    ("the log context (request id, customer, action)", [
        Cut(MIDDLEWARE, '    logs.new_context(request_id=f"{random.getrandbits(48):012x}")\n', ""),
        Cut(V2, "    logs.bind(customer=customer.id)\n", ""),
        Cut(V2, "    logs.bind(action=action)\n", ""),
    ]),
    ("the rate limit", [
        Cut(V2, "if not await request.app[RATE_LIMITER].allow(", "if False and ("),
    ]),
    ("the middleware (error answers, timing)", [
        Cut(APP, "middlewares=[middleware.json_errors]", "middlewares=[]"),
    ]),
]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.costs", description=__doc__)
    parser.add_argument("--workload", choices=WORKLOADS, default="services")
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=1, help="each server's turn per cycle")
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args(argv)
    if args.cycles < 2:
        parser.error("--cycles: at least 2, for quartiles")
    sizes = _seed.Sizes(services=args.services, customers=1000, orders=100_000)
    with tempfile.TemporaryDirectory(prefix="rcosts-") as tmp:
        folder = Path(tmp)
        trees = [_tree(folder / f"step{n}", n) for n in range(len(STEPS) + 1)]
        with _seed.seeded_database(sizes, folder) as (dsn, bodies, database):
            rates = _measure(trees, dsn, bodies[args.workload], sizes, args, folder)
    names = ["full app", *(f"− {name}" for name, _ in STEPS), "bare handler (the limit)"]
    print(
        f"`{args.workload}`: {sizes.services:,} services, {sizes.customers:,} customers,"
        f" {sizes.orders:,} orders"
    )
    print("| step | req/s (median) | × full app (median, quartiles) | 1 s ÷ rate, µs |")
    print("|---|---|---|---|")
    for name, runs in zip(names, rates, strict=False):  # no bare handler but for `services`
        ratios = [run / full for run, full in zip(runs, rates[0], strict=True)]
        low, _, high = statistics.quantiles(ratios, n=4)
        rate = statistics.median(runs)
        print(
            f"| {name} | {rate:,.0f} | {statistics.median(ratios):.2f} ({low:.2f}–{high:.2f})"
            f" | {1e6 / rate:.0f} |"
        )
    print(
        f"\n{args.cycles} cycles of one {args.seconds} s turn per server; wrk,"
        f" {args.connections} connections; database: {database}"
    )
    return 0


def _tree(root: Path, steps: int) -> Path:
    """A copy of the source with the first `steps` steps' cuts made."""
    for part in ("reseller", "bench", "sql"):
        ignore = shutil.ignore_patterns("__pycache__")
        shutil.copytree(_procs.ROOT / part, root / part, ignore=ignore)
    for name, cuts in STEPS[:steps]:
        for cut in cuts:
            path = root / cut.file
            text = path.read_text()
            if text.count(cut.old) != 1:
                raise SystemExit(f"step {name!r}: {cut.file} no longer reads {cut.old!r}")
            path.write_text(text.replace(cut.old, cut.new))
    return root


def _measure(
    trees: list[Path],
    dsn: str,
    bodies: Path,
    sizes: _seed.Sizes,
    args: argparse.Namespace,
    folder: Path,
) -> list[list[float]]:
    """Per server (each step's, then for `services` the bare handler's), its rate in each
    cycle. Answers are checked for API errors except `services`' (too large to copy into Lua)."""
    check = args.workload != "services"
    with ExitStack() as servers:
        urls = []
        for n, tree in enumerate(trees):
            port = _procs.free_port()
            argv = _procs.python_argv(
                "serve-app", dsn, f"--port={port}", f"--services={sizes.services}", "--pool-size=8"
            )
            health = f"http://127.0.0.1:{port}/healthz"
            servers.enter_context(_procs.Server(argv, health, folder / f"{n}.log", cwd=tree))
            urls.append(f"http://127.0.0.1:{port}/api/v2")
        if not check:
            answers = _answers(urls[0], bodies)
            urls.append(servers.enter_context(_limits.bare_handler(answers, folder, "answers")))
        warm = _load.Settings(args.connections, warmup=0, duration=2)
        for url in urls:  # caches filled, connections open
            _load.http(url, bodies, warm, check_bodies=check)
        turn = _load.Settings(args.connections, warmup=0, duration=args.seconds)
        rates: list[list[float]] = [[] for _ in urls]
        for cycle in range(args.cycles):
            order = range(len(urls)) if cycle % 2 == 0 else reversed(range(len(urls)))
            for n in order:
                measured = _load.http(urls[n], bodies, turn, check_bodies=check)
                if measured.failed:
                    raise SystemExit(f"{urls[n]}: {measured.failed} failed requests")
                rates[n].append(measured.rate)
            print(f"cycle {cycle + 1}/{args.cycles}", file=sys.stderr, flush=True)
    return rates


def _answers(url: str, bodies: Path) -> dict[str, bytes]:
    """What the full app answers each key: the bare handler answers the same bytes."""
    answers: dict[str, bytes] = {}
    for line in bodies.read_text().splitlines():
        key = _load.key_of(line)
        if key not in answers:
            answers[key] = _load.ask(url, line)
    return answers


if __name__ == "__main__":
    sys.exit(main())
