"""Hostile or stalled clients cannot hold the server: idle and trickling connections are closed
at their deadlines, connections past the cap get an immediate 503, and a request whose
database work stalls answers "temporarily unavailable" within the statement timeout.

The app is served exactly as `reseller serve` serves it (`listener.serve_app`), over real
sockets, with the deadlines shortened so each attack shows in well under a second or two.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
import pytest_asyncio
from conftest import CATALOG_YAML

from reseller import config, customers, db, errors, locks, metrics
from reseller.api import listener
from reseller.api.app import create_app
from reseller.catalog import sync as catalog_sync

DEADLINE = 0.5  # idle, header and body deadline alike
CAP = 3
LIMITS_YAML = CATALOG_YAML + (
    f"server: {{idle_timeout_seconds: {DEADLINE}, body_timeout_seconds: {DEADLINE}, "
    f"max_connections: {CAP}}}\n"
)
FORM = b"POST /api/v2 HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
UNAVAILABLE = b'{"error":"Service temporarily unavailable, try again shortly"}'


@pytest_asyncio.fixture(loop_scope="session")
async def port(pool: db.Database) -> AsyncIterator[int]:
    settings = config.parse(LIMITS_YAML)
    await catalog_sync.rebuild(pool, settings)
    served = await listener.serve_app(
        create_app(settings, pool=pool), settings.server, "127.0.0.1", 0, grace=1
    )
    yield served.port
    await served.close()


async def closed_after(reader: asyncio.StreamReader, *, within: float = 5.0) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and how long that took."""
    started = time.monotonic()
    data = await asyncio.wait_for(reader.read(), within)
    return data, time.monotonic() - started


async def trickle(writer: asyncio.StreamWriter, data: bytes, *, every: float = 0.1) -> None:
    """Send one byte at a time, as a slowloris does, until the server hangs up."""
    for byte in data:
        if writer.is_closing():
            return
        writer.write(bytes([byte]))
        try:
            await writer.drain()
        except ConnectionError:
            return
        await asyncio.sleep(every)


async def test_a_connection_that_sends_nothing_is_closed_at_the_idle_deadline(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    data, waited = await closed_after(reader)
    writer.close()
    assert data == b""
    assert DEADLINE * 0.8 <= waited < DEADLINE + 2


async def test_a_kept_alive_connection_is_closed_once_idle_after_its_answer(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(FORM + b"Content-Length: 10\r\n\r\nkey=abcdef")
    data, waited = await closed_after(reader)
    writer.close()
    assert data.startswith(b"HTTP/1.1 200")
    assert data.endswith(b'{"error":"Invalid API key"}')
    assert waited >= DEADLINE * 0.8


async def test_a_header_trickled_byte_by_byte_is_cut_off_at_the_deadline(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    header = FORM + b"X-Padding: " + b"a" * 100 + b"\r\n\r\n"  # 20 s at a byte per 0.1 s
    sender = asyncio.create_task(trickle(writer, header))
    data, waited = await closed_after(reader)
    sender.cancel()
    writer.close()
    assert data == b""
    assert waited < DEADLINE + 2


async def test_a_body_trickled_past_the_deadline_gets_408_and_the_connection_closed(
    port: int,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(FORM + b"Content-Length: 100\r\n\r\n")
    sender = asyncio.create_task(trickle(writer, b"key=" + b"k" * 96))  # 10 s at this pace
    data, waited = await closed_after(reader)
    sender.cancel()
    writer.close()
    assert data.startswith(b"HTTP/1.1 408")
    assert data.endswith(b'{"error":"Request timeout"}')
    assert waited < DEADLINE + 2.5  # the deadline, then at most the 1 s drain of the rest


async def test_connections_past_the_cap_get_503_at_once_and_freed_slots_serve_again(
    port: int,
) -> None:
    refused_before = metrics.REGISTRY.get_sample_value("reseller_api_connections_refused_total")
    held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(CAP)]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    data, waited = await closed_after(reader, within=1)
    writer.close()
    assert data.startswith(b"HTTP/1.1 503")
    assert data.endswith(UNAVAILABLE)
    assert waited < DEADLINE  # answered, not left to hang
    refused_after = metrics.REGISTRY.get_sample_value("reseller_api_connections_refused_total")
    assert refused_after == (refused_before or 0) + 1
    _, first = held.pop()
    first.close()
    await first.wait_closed()
    await asyncio.sleep(0.05)  # the server sees the close
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(FORM + b"Content-Length: 10\r\nConnection: close\r\n\r\nkey=abcdef")
    data, _ = await closed_after(reader, within=2)
    writer.close()
    assert data.startswith(b"HTTP/1.1 200")
    assert data.endswith(b'{"error":"Invalid API key"}')
    for _, other in held:
        other.close()


@pytest_asyncio.fixture(loop_scope="session")
async def bounded_pool(dsn: str) -> AsyncIterator[db.Database]:
    """A pool as `serve` makes it, with a short statement timeout and two connections (an app
    keeps one for its key cache's LISTEN)."""
    bounded = await db.create_pool(dsn, min_size=2, max_size=2, statement_timeout=DEADLINE)
    yield bounded
    await bounded.close()


async def test_a_request_stalled_by_a_table_lock_answers_unavailable_within_the_timeout(
    pool: db.Database, bounded_pool: db.Database
) -> None:
    _, key = await customers.create(pool, "acme", balance=Decimal(5))
    settings = config.parse(LIMITS_YAML)
    served = await listener.serve_app(
        create_app(settings, pool=bounded_pool), settings.server, "127.0.0.1", 0, grace=1
    )
    request = FORM + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % (len(key) + 19)
    request += b"key=" + key.encode() + b"&action=balance"

    async def ask() -> tuple[bytes, float]:
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        writer.write(request)
        answer = await closed_after(reader)
        writer.close()
        return answer

    try:
        async with pool.transaction() as locker:
            await locker.execute("LOCK TABLE customers IN ACCESS EXCLUSIVE MODE")
            data, waited = await ask()
        assert data.endswith(UNAVAILABLE)
        assert DEADLINE * 0.8 <= waited < DEADLINE + 1.5
        data, _ = await ask()  # the lock is gone: served again
        assert data.endswith(b'{"balance":"5.00","currency":"USD"}')
    finally:
        await served.close()


async def test_a_wait_for_a_free_connection_fails_as_unavailable_within_the_timeout(
    bounded_pool: db.Database,
) -> None:
    taken = [await bounded_pool.hold() for _ in range(2)]
    try:
        started = time.monotonic()
        with pytest.raises(errors.DatabaseUnavailable):
            await bounded_pool.fetchval("SELECT 1")
        assert time.monotonic() - started < DEADLINE + 1
    finally:
        for conn in taken:
            await bounded_pool.release(conn)
    assert await bounded_pool.fetchval("SELECT 1") == 1


async def test_catalog_writers_queue_for_their_lock_past_the_statement_timeout(
    pool: db.Database, bounded_pool: db.Database
) -> None:
    """Every process rebuilds the catalog at its start, one at a time: the last of a long
    queue waits for the lock instead of failing its start at the statement timeout."""
    settings = config.parse(LIMITS_YAML)
    async with pool.transaction() as first:
        await first.execute(db.Q.lock_catalog, locks.CATALOG_WRITE)
        waiting = asyncio.create_task(catalog_sync.rebuild(bounded_pool, settings))
        await asyncio.sleep(DEADLINE * 2)
        assert not waiting.done()
    await asyncio.wait_for(waiting, 5)
