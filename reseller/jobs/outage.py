"""One log line when the database becomes unreachable and one when it is back.

Calls that fail meanwhile (requests, the dispatch scan, jobs) log nothing of their own for it
(`db.is_unavailable`): a probe, once a second, is the only voice of an outage, so its lines
mark changes of state and not every failed call.
"""

from __future__ import annotations

import asyncio
import time

from reseller import db, logs

log = logs.get_logger()
PROBE_SECONDS = 1.0


async def watch(pool: db.Database) -> None:
    """Until cancelled."""
    down_since: float | None = None
    while True:
        await asyncio.sleep(PROBE_SECONDS)
        try:
            await db.ping(pool)
        except Exception as exc:  # whatever stops the database answering means: down
            if down_since is None:
                down_since = time.monotonic()
                log.warning("database_unavailable", error=f"{type(exc).__name__}: {exc}")
            continue
        if down_since is not None:
            log.warning("database_available", down_seconds=round(time.monotonic() - down_since, 1))
            down_since = None
