"""The API key cache follows customer changes through a LISTEN connection; losing that
connection with the database never makes stopping the app fail."""

from __future__ import annotations

import asyncio

from reseller import db
from reseller.api.keycache import KeyCache


async def test_stopping_after_the_listen_connection_was_killed_does_not_fail(
    dsn: str,
) -> None:
    pool = await db.create_pool(dsn, min_size=1, max_size=2)
    try:
        cache = KeyCache(pool)
        await cache.start()
        assert cache.listening
        backend = await pool.fetchval(
            "SELECT pid FROM pg_stat_activity WHERE query ILIKE 'LISTEN%'"
            " AND pid <> pg_backend_pid() AND datname = current_database()"
        )
        await pool.execute("SELECT pg_terminate_backend($1)", backend)
        await cache.stop()  # the database dropped it mid-shutdown, as after a restart
        assert not cache.listening
        assert await pool.fetchval("SELECT 1") == 1  # the pool still serves
    finally:
        # Bounded: a connection never given back would hold the close (and serve's exit).
        await asyncio.wait_for(pool.close(), 10)


async def test_a_stopped_cache_does_not_listen_again(dsn: str) -> None:
    """The app's poller re-listens when the listener is lost; after `stop` (the app shutting
    down) it must not, or its connection is never given back and the pool cannot close."""
    pool = await db.create_pool(dsn, min_size=1, max_size=2)
    try:
        cache = KeyCache(pool)
        await cache.start()
        await cache.stop()
        await cache.start()  # the poller, a moment late
        assert not cache.listening
        listening = await pool.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE query ILIKE 'LISTEN%'"
            " AND datname = current_database()"
        )
        assert listening == 0
    finally:
        await asyncio.wait_for(pool.close(), 10)
