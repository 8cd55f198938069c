"""One alerts check: what is wrong now, what each destination must be told, delivery, and the
record of what it was told (`alert_state`), written once it took each message.

The caller (the alerts job) holds the advisory lock: one process checks at a time, and it reads
what the last one recorded, so nothing is sent twice. A message delivered but not recorded (the
process died in between) is sent again by the next check: at least once, not exactly once.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from datetime import timedelta

import aiohttp
import orjson

from reseller import db, logs, metrics
from reseller.alerts import conditions, dedup, destinations
from reseller.alerts.dedup import Told
from reseller.alerts.destinations import Destination
from reseller.config import Config
from reseller.config.alerts import AlertsConfig
from reseller.db import Q

log = logs.get_logger()


class Notifier:
    """Per process: the HTTP session, and which destinations are failing (their failure is
    logged once when it starts and once when it ends, not per message or per retry)."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._failing: set[str] = set()

    async def check(self, pool: db.Database, config: Config) -> Counter[str]:
        settings = config.alerts
        targets = destinations.configured(settings)
        now = await pool.fetchval(Q.alert_clock)
        found = await conditions.current(pool, config)
        await pool.execute(Q.forget_alert_destinations, [d.id for d in targets])
        told = _told(await pool.fetch(Q.alert_state))
        remind_after = timedelta(minutes=settings.remind_after_minutes)
        plans = [
            (d, dedup.plan(found, told[d.id], now=now, remind_after=remind_after)) for d in targets
        ]
        # Each destination at its own pace: one that hangs delays none of the others.
        results = await asyncio.gather(*(self._tell(pool, d, p, settings) for d, p in plans))
        return sum(results, Counter())

    async def _tell(
        self,
        pool: db.Database,
        destination: Destination,
        steps: list[dedup.Step],
        settings: AlertsConfig,
    ) -> Counter[str]:
        """In order; the first message it does not take ends its turn (it is down: the rest
        waits for the next check, unrecorded)."""
        counts: Counter[str] = Counter()
        for step in steps:
            if step.alert is not None:
                failure = await destinations.deliver(
                    self._open(),
                    destination,
                    step.alert,
                    retry_seconds=float(settings.retry_seconds),
                    attempt_seconds=float(settings.timeout_seconds),
                )
                self._note(destination, failure)
                if failure is not None:
                    metrics.ALERT_DELIVERY_FAILURES.labels(destination.type).inc()
                    counts["failed"] += 1
                    return counts
                state = step.alert.state.value
                metrics.ALERTS_SENT.labels(destination.type, state).inc()
                counts[state] += 1
            await _record(pool, destination.id, step)
        return counts

    def _note(self, destination: Destination, failure: str | None) -> None:
        where = {"destination": destination.where, "type": destination.type}
        if failure is not None and destination.id not in self._failing:
            self._failing.add(destination.id)
            log.warning("alert_destination_failing", reason=failure, **where)
        elif failure is None and destination.id in self._failing:
            self._failing.discard(destination.id)
            log.warning("alert_destination_recovered", **where)

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                json_serialize=lambda value: orjson.dumps(value).decode()
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _told(rows: list[db.Record]) -> dict[str, dict[tuple[str, str], Told]]:
    """The rows of `alert_state` by destination, then by condition."""
    told: dict[str, dict[tuple[str, str], Told]] = defaultdict(dict)
    for row in rows:
        before = Told(
            row["kind"],
            row["subject"],
            frozenset(row["items"]),
            row["text"],
            row["since"],
            row["notified_at"],
        )
        told[row["destination"]][before.key] = before
    return told


async def _record(pool: db.Database, destination: str, step: dedup.Step) -> None:
    kind, subject = step.key
    if step.told is None:
        await pool.execute(Q.forget_alert_state, destination, kind, subject)
        return
    t = step.told
    await pool.execute(
        Q.record_alert_state,
        destination,
        kind,
        subject,
        sorted(t.items),
        t.text,
        t.since,
        t.notified_at,
    )
