"""API key → customer, cached in the process: the lookup is a database round trip that every
request would otherwise pay (for `services`, the only one).

The cache is only trusted while a LISTEN connection is up: a trigger on `customers` notifies
every server when a key, a suspension or a rate limit changes (whoever changed it, CLI or SQL),
and the whole cache is dropped. Without the listener — the database restarting — every request
asks the database. Entries also expire after a while, as a second line.
"""

from __future__ import annotations

import time

from reseller import api_keys, customers, db, logs
from reseller.db import Q

log = logs.get_logger()
TTL_SECONDS = 30.0
MAX_ENTRIES = 100_000


class KeyCache:
    def __init__(self, pool: db.Database) -> None:
        self._pool = pool
        self._entries: dict[bytes, tuple[customers.Customer | None, float]] = {}
        self._listener: db.Connection | None = None  # held until `start` or `stop` gives it back
        self._live = False  # the listener is up: until the database drops it
        self._stopped = False  # by `stop`, for good: the app's poller must not listen again

    async def start(self) -> None:
        """Listen for changes; without a listener the cache stays off (never stale). The one
        lost with the database is let go first. Nothing once stopped."""
        await self._release()
        if self._stopped:
            return
        try:
            conn = await self._pool.hold()
        except Exception as exc:  # no database now: run uncached, try again later
            _off(exc)
            return
        if self._stopped:  # stopped while this one waited for its connection
            await self._pool.release(conn)
            return
        try:
            await conn.add_listener("customers_changed", self._changed)
            conn.add_termination_listener(self._lost)
            await conn.execute(Q.listen_customers)
        except Exception as exc:
            await self._pool.release(conn)
            _off(exc)
            return
        self._listener, self._live = conn, True

    @property
    def listening(self) -> bool:
        return self._live

    async def stop(self) -> None:
        self._stopped = True
        await self._release()

    async def _release(self) -> None:
        conn, self._listener, self._live = self._listener, None, False
        if conn is None:
            return
        try:
            conn.remove_termination_listener(self._lost)
            await conn.remove_listener("customers_changed", self._changed)
            await conn.execute(Q.unlisten_customers)
        except Exception:  # lost with a database that went away: dropped, never reused
            self._pool.drop(conn)
        await self._pool.release(conn)

    async def customer(self, key: str) -> customers.Customer | None:
        digest = api_keys.key_hash(key)
        if not self.listening:
            return await customers.by_hash(self._pool, digest)
        now = time.monotonic()
        cached = self._entries.get(digest)
        if cached is not None and cached[1] > now:
            return cached[0]
        found = await customers.by_hash(self._pool, digest)
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[digest] = (found, now + TTL_SECONDS)
        return found

    def known(self, key: str) -> customers.Customer | None:
        """The customer this key is already known to belong to, from memory only (no lookup)."""
        cached = self._entries.get(api_keys.key_hash(key)) if self.listening else None
        return cached[0] if cached is not None and cached[1] > time.monotonic() else None

    def _changed(self, *_: object) -> None:
        self._entries.clear()

    def _lost(self, *_: object) -> None:
        # Not to be touched any more (asyncpg detaches a lost pool connection): `start` or
        # `stop` gives it back.
        self._live = False
        self._entries.clear()


def _off(exc: Exception) -> None:
    if not db.is_unavailable(exc):  # an outage is logged by jobs.outage
        log.warning("key_cache_off", error=str(exc))
