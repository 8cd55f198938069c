"""A client flooding the API with wrong keys is held off per address, without a database
lookup per attempt, while a customer the server already knows keeps being served."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator
from decimal import Decimal

import aiohttp
import pytest_asyncio
from aiohttp.test_utils import TestServer
from conftest import CATALOG_YAML, ApiClient

from reseller import config, customers
from reseller.api.app import create_app

FLOOD_YAML = CATALOG_YAML + (
    # No wait on the 429s: 40 calls must take far less than the 3 s a token takes to return.
    "api: {failed_auth_per_minute: 20, failed_auth_delay_seconds: 0,"
    " client_address_header: X-Real-IP}\n"
)


@contextlib.asynccontextmanager
async def serving(pool, yaml: str) -> AsyncIterator[ApiClient]:
    server = TestServer(create_app(config.parse(yaml), pool=pool), host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            yield ApiClient(session, str(server.make_url("")).rstrip("/"))
    finally:
        await server.close()


@pytest_asyncio.fixture(loop_scope="session")
async def guarded(pool) -> AsyncIterator[ApiClient]:
    async with serving(pool, FLOOD_YAML) as api:
        yield api


async def call(api: ApiClient, key: str, address: str = "203.0.113.9") -> tuple[int, bytes]:
    async with api.session.post(
        api.url + "/api/v2", data={"key": key, "action": "balance"}, headers={"X-Real-IP": address}
    ) as response:
        return response.status, await response.read()


async def test_random_keys_from_one_address_get_429_after_the_limit(guarded, pool) -> None:
    _, good = await customers.create(pool, "acme", balance=Decimal(5))
    assert (await call(guarded, good))[0] == 200  # known to this process from now on
    answers = [await call(guarded, secrets.token_hex(16)) for _ in range(40)]
    assert [status for status, _ in answers[:20]] == [200] * 20  # "Invalid API key", HTTP 200
    assert all(b"Invalid API key" in body for _, body in answers[:20])
    assert answers[20:] == [(429, b'{"error":"Too many requests"}')] * 20
    # The known customer, from the same address, is still served; another address is not held.
    assert await call(guarded, good) == (200, b'{"balance":"5.00","currency":"USD"}')
    assert b"Invalid API key" in (await call(guarded, "wrong", address="198.51.100.7"))[1]


async def test_without_a_trusted_header_the_connection_address_counts(api, pool) -> None:
    # The default config trusts no header: a client cannot dodge the limit by inventing one.
    statuses = set()
    for n in range(70):
        status, _ = await call(api, secrets.token_hex(8), address=f"10.0.0.{n}")
        statuses.add(status)
    assert statuses == {200, 429}


async def test_a_flooding_address_waits_for_its_429s_while_a_known_customer_does_not(
    pool,
) -> None:
    """The delay holds a flood's clients (a timer each, no CPU) instead of answering them as
    fast as they can send: 50 keep-alive clients then send 50 requests per delay."""
    slow_yaml = CATALOG_YAML + (
        "api: {failed_auth_per_minute: 2, failed_auth_delay_seconds: 0.5,"
        " client_address_header: X-Real-IP}\n"
    )
    _, good = await customers.create(pool, "acme", balance=Decimal(5))
    async with serving(pool, slow_yaml) as api:
        await call(api, good)  # known from now on
        for _ in range(2):
            await call(api, secrets.token_hex(16))
        started = time.monotonic()
        throttled = await asyncio.gather(*(call(api, secrets.token_hex(16)) for _ in range(20)))
        waited = time.monotonic() - started
        assert throttled == [(429, b'{"error":"Too many requests"}')] * 20
        assert 0.5 <= waited < 2.5  # together, not one after the other
        started = time.monotonic()
        assert (await call(api, good))[0] == 200
        assert time.monotonic() - started < 0.5


async def test_wrong_keys_from_many_addresses_are_answered_slowly_past_the_total(pool) -> None:
    """A flood from ever-new addresses escapes the per-address limit; past the total for all
    addresses together, each wrong key waits, and a customer's key is still answered at once."""
    many_yaml = CATALOG_YAML + (
        "api: {failed_auth_per_minute_all: 5, failed_auth_delay_seconds: 0.5,"
        " client_address_header: X-Real-IP}\n"
    )
    _, good = await customers.create(pool, "acme", balance=Decimal(5))
    async with serving(pool, many_yaml) as api:

        async def wrong(n: int) -> tuple[tuple[int, bytes], float]:
            started = time.monotonic()
            answer = await call(api, secrets.token_hex(16), address=f"198.51.100.{n}")
            return answer, time.monotonic() - started

        answers = [await wrong(n) for n in range(8)]
        assert {answer for answer, _ in answers} == {(200, b'{"error":"Invalid API key"}')}
        assert all(waited < 0.4 for _, waited in answers[:5])
        assert all(waited >= 0.5 for _, waited in answers[5:])
        started = time.monotonic()
        assert await call(api, good, address="198.51.100.99") == (
            200,
            b'{"balance":"5.00","currency":"USD"}',
        )
        assert time.monotonic() - started < 0.4
