"""Where the API's time goes: the app under `bench/api.py`'s load, sampled by py-spy.

    python -m bench.profile [--workload services] [--seconds 15] [--orders 100000]

Seeds the API bench's database (smaller by default: profiles do not need a million orders), runs
the app as `bench.api` runs it, sends one workload (`services`, `status`, `add_spread`,
`add_hot`) with wrk at 32 connections, and samples the app with py-spy meanwhile. Writes
bench/profiles/WORKLOAD.svg (a flame graph) and prints the functions holding the most samples,
by their own time and with what they call. Needs py-spy (`pip install py-spy`) and wrk.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import _load, _procs, _seed

HERE = Path(__file__).parent
WORKLOADS = ("services", "status", "add_spread", "add_hot")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--workload", choices=WORKLOADS, default="services")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    for tool in ("py-spy", "wrk"):
        if shutil.which(tool) is None:
            parser.error(f"{tool} is not installed")
    sizes = _seed.Sizes(services=args.services, customers=1000, orders=args.orders)
    with (
        tempfile.TemporaryDirectory(prefix="rprofile-") as tmp,
        _seed.seeded_database(sizes, Path(tmp)) as (dsn, bodies, _),
    ):
        raw = _profiled(dsn, bodies[args.workload], sizes, args.seconds, Path(tmp))
    print(_summary(raw, args.top))
    return 0


def _profiled(dsn: str, bodies: Path, sizes: _seed.Sizes, seconds: int, folder: Path) -> str:
    port = _procs.free_port()
    argv = _procs.python_argv(
        "serve-app", dsn, f"--port={port}", f"--services={sizes.services}", "--pool-size=32"
    )
    url = f"http://127.0.0.1:{port}/api/v2"
    settings = _load.Settings(connections=32, warmup=1, duration=seconds + 2)
    raw = folder / "stacks.txt"
    (HERE / "profiles").mkdir(exist_ok=True)
    svg = HERE / "profiles" / f"{bodies.stem}.svg"
    with _procs.Server(argv, f"http://127.0.0.1:{port}/healthz", folder / "app.log") as server:
        sampler = [
            "py-spy", "record", "--pid", str(server.pid), "--duration", str(seconds),
            "--rate", "200", "--nonblocking",
        ]  # fmt: skip
        flame = subprocess.Popen([*sampler, "--format", "flamegraph", "--output", str(svg)])
        stacks = subprocess.Popen([*sampler, "--format", "raw", "--output", str(raw)])
        measured = _load.http(url, bodies, settings, check_bodies=True)
        flame.wait(seconds + 30)
        stacks.wait(seconds + 30)
    print(f"{bodies.stem}: {measured.rate:,.0f} req/s under the sampler; flame graph: {svg}")
    return raw.read_text()


def _summary(raw: str, top: int) -> str:
    """Per function: samples where it is running (self) and where it is on the stack (total),
    as shares of all samples."""
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        frames = [f.split(" (")[0] + " " + f.split(" (")[-1].rstrip(")") for f in stack.split(";")]
        samples += n
        own[frames[-1]] += n
        for frame in set(frames):
            total[frame] += n
    lines = [f"{samples} samples; self %, total %, function (file:line)"]
    for frame, n in own.most_common(top):
        lines.append(f"{n / samples * 100:5.1f} {total[frame] / samples * 100:5.1f}  {frame}")
    lines.append("\nmost on the stack (total %):")
    for frame, n in total.most_common(top):
        lines.append(f"{n / samples * 100:5.1f}  {frame}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
