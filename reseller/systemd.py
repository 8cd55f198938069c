"""systemd's notify protocol (Type=notify): READY=1 when serving, STOPPING=1 on the way out,
WATCHDOG=1 pings when the unit sets WatchdogSec. A datagram to $NOTIFY_SOCKET; without it
(not under systemd) every call does nothing."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator


def notify(state: str) -> None:
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    # systemd gone: nothing to tell
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock, contextlib.suppress(OSError):
        sock.sendto(state.encode(), address)


@contextlib.asynccontextmanager
async def watchdog() -> AsyncIterator[None]:
    """Ping at half the watchdog interval while the event loop is alive: a hung loop stops the
    pings and systemd restarts the service."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or not usec.isdigit() or (pid and pid != str(os.getpid())):
        yield
        return

    async def ping() -> None:
        while True:
            notify("WATCHDOG=1")
            await asyncio.sleep(int(usec) / 2_000_000)

    task = asyncio.create_task(ping())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
