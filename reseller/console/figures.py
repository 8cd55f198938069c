"""The dashboard's money over its 30 days, summed in the background and shown from memory.

Summing 30 days of orders is the report's query (`reseller report --by day`): about half a
second with 1 000 000 orders a year, too slow to run on every page. The last sum is kept with
the time it was made; a page asking once it is older than `admin.figures_seconds` gets it at
once and starts the next in the background. Only the first page after start waits for one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from reseller import db
from reseller.config import LiveConfig
from reseller.db import Q
from reseller.reports import revenue

DAYS = 30


@dataclass(frozen=True, slots=True)
class Snapshot:
    at: datetime
    days: list[revenue.Line]  # one per UTC date, the oldest first, the last today's
    statuses: list[tuple[str, int]]  # orders placed in the 30 days, by status, most first


class Figures:
    def __init__(
        self, pool: db.Database, live: LiveConfig, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._pool, self._live, self._clock = pool, live, clock
        self._last: Snapshot | None = None
        self._made_at = 0.0  # by `clock`
        self._next: asyncio.Task[Snapshot] | None = None

    async def latest(self) -> Snapshot:
        """The last sum; the first one is waited for, a stale one starts the next."""
        if self._last is None:
            return await self._start()
        if self._clock() - self._made_at >= self._live.current.admin.figures_seconds:
            self._start()
        return self._last

    async def refreshed(self) -> Snapshot:
        """The sum being made now, if one is; else the last."""
        return await self._next if self._next is not None else await self.latest()

    def _start(self) -> asyncio.Task[Snapshot]:
        """The sum being made, started unless one is: pages asking meanwhile share it."""
        if self._next is None:
            self._next = asyncio.create_task(self._refresh())
            self._next.add_done_callback(self._finished)
        return self._next

    async def close(self) -> None:
        if self._next is not None:
            self._next.cancel()
            await asyncio.gather(self._next, return_exceptions=True)

    def _finished(self, task: asyncio.Task[Snapshot]) -> None:
        self._next = None
        if not task.cancelled():
            task.exception()  # a failed sum is retried by the next page; the old one stays

    async def _refresh(self) -> Snapshot:
        started = self._clock()
        snapshot = await _sum(self._pool, self._live, datetime.now(UTC))
        self._last, self._made_at = snapshot, started
        return snapshot


async def _sum(pool: db.Database, live: LiveConfig, now: datetime) -> Snapshot:
    config, today = live.current, now.date()
    base = config.api.currency
    days = [today - timedelta(days=n) for n in range(DAYS - 1, -1, -1)]
    start = datetime.combine(days[0], datetime.min.time(), UTC)
    report = await revenue.build(pool, config, start=start, end=start + timedelta(DAYS), by="day")
    grouped: dict[date, list[revenue.Line]] = {}
    for line in report.lines:  # one per day and customer currency
        grouped.setdefault(date.fromisoformat(line.key), []).append(line)
    statuses = await pool.fetch(Q.console_orders_by_status, start)
    return Snapshot(
        now,
        [revenue.total(grouped.get(d, []), d.isoformat(), base) for d in days],
        [(r["status"], r["orders"]) for r in statuses],
    )
