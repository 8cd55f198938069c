"""CPU time from /proc: of a process and everything under it, and of the whole machine — to say
which process a run's cores went to (Linux only)."""

from __future__ import annotations

import os
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def tree_seconds(pid: int) -> float:
    """CPU seconds of `pid` and its descendants, with the children they have already reaped
    (PostgreSQL's exited backends, a supervisor's exited workers)."""
    parents: dict[int, list[int]] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone since the listing
            continue
        # Fields after the command name, which may itself hold spaces and parentheses.
        fields = stat[stat.rindex(")") + 2 :].split()
        child = int(entry.name)
        parents.setdefault(int(fields[1]), []).append(child)
        times[child] = sum(int(value) for value in fields[11:15]) / _TICK
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += times.get(current, 0.0)
        todo.extend(parents.get(current, ()))
    return total


def machine_seconds() -> tuple[float, float]:
    """(busy, all) CPU seconds the machine has spent since boot, summed over its cores."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    everything = sum(values[:8])  # guest time is already counted in user
    return (everything - idle) / _TICK, everything / _TICK
