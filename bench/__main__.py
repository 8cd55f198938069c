"""`python -m bench`: every benchmark, one after the other, each printing its table."""

from __future__ import annotations

import subprocess
import sys

RUNS = (
    ("API throughput and latency per action", ["bench.api", "--markdown"]),
    (
        "API `add` on a durable PostgreSQL (fsync and synchronous_commit on)",
        ["bench.api", "--markdown", "--durable", "--only", "add_spread", "--only", "add_hot"],
    ),
    (
        "Status sync pass against its latency floor, memory at 10k/100k/1M orders",
        ["bench.sync", "--orders", "10000,100000,1000000"],
    ),
    ("End-to-end order throughput", ["bench.e2e", "--seconds", "4", "--rounds", "3"]),
    (
        "Resilience: customer latency under hostile traffic, recovery from a database crash",
        ["bench.resilience", "--markdown"],
    ),
    ("Margin safeguards on and off, 1 000 orders", ["bench.margin", "--markdown"]),
    ("Routing modes over three providers, 2 000 orders", ["bench.routing", "--markdown"]),
    ("Console pages with 1 000 000 orders", ["bench.console", "--markdown"]),
)


def main() -> int:
    failed = 0
    for title, argv in RUNS:
        print(f"\n## {title}\n", flush=True)
        failed |= subprocess.run([sys.executable, "-m", *argv], check=False).returncode
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
