"""`reseller serve --workers N`: N server processes on one port (SO_REUSEPORT), supervised.

The parent holds the database (the embedded server, if any) and hands its DSN to the children;
it forwards SIGTERM/SIGINT/SIGHUP to them, and if one dies unexpectedly it stops the rest and
exits non-zero (let systemd restart the set). An embedded server that dies is restarted here,
the children's pools reconnect by themselves; if it cannot be, the set stops, non-zero.
Children die with the parent, even on SIGKILL.
Dispatch and jobs are safe in every child: they coordinate through the database.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
from collections.abc import Sequence

from reseller import child, logs
from reseller.dbserver import Supervisor
from reseller.embedded_pg import EmbeddedPostgresError

log = logs.get_logger()

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def supervise(
    serve_args: Sequence[str], count: int, env: dict[str, str], database: Supervisor | None
) -> int:
    """`database`: the embedded server this process started, if any."""
    # Each child pings the systemd watchdog itself (with NotifyAccess=all).
    env = {k: v for k, v in env.items() if k != "WATCHDOG_PID"}
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "reseller", *serve_args, "--reuse-port"],
            env={**env, logs.WORKER_ENV: str(number)},  # its log lines say which it is
            preexec_fn=functools.partial(child.die_with_parent, os.getpid(), signal.SIGTERM),
        )
        for number in range(1, count + 1)
    ]
    stopping = False

    def forward(sig: int, _frame: object) -> None:
        nonlocal stopping
        stopping = stopping or sig != signal.SIGHUP
        for proc in children:
            if proc.poll() is None:
                proc.send_signal(sig)

    for sig in FORWARDED:
        signal.signal(sig, forward)
    failed = False
    running = set(children)
    while running:
        pid, status = os.wait()
        if database is not None and database.owns(pid):  # our wait reaped the postmaster
            try:
                database.restart_reaped(status)
            except EmbeddedPostgresError:  # logged; the children cannot work without it
                failed = True
                forward(signal.SIGTERM, None)
            continue
        proc = next((p for p in running if p.pid == pid), None)
        if proc is None:
            continue
        proc.returncode = os.waitstatus_to_exitcode(status)
        running.discard(proc)
        # A child still starting when the stop came ends by the signal itself: that is fine.
        stopped_by_us = stopping and proc.returncode in (0, -signal.SIGTERM, -signal.SIGINT)
        if not stopped_by_us:
            failed = True
            if not stopping:  # one died on its own: take the set down
                forward(signal.SIGTERM, None)
    return 1 if failed else 0
