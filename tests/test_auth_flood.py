"""A client flooding the API with wrong keys is held off per address, without a database
lookup per attempt, while a customer the server already knows keeps being served."""

from __future__ import annotations

import secrets
from decimal import Decimal

import aiohttp
import pytest_asyncio
from aiohttp.test_utils import TestServer
from conftest import CATALOG_YAML, ApiClient

from reseller import config, customers
from reseller.api.app import create_app

FLOOD_YAML = CATALOG_YAML + "api: {failed_auth_per_minute: 20, client_address_header: X-Real-IP}\n"


@pytest_asyncio.fixture(loop_scope="session")
async def guarded(pool):
    app = create_app(config.parse(FLOOD_YAML), pool=pool)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    async with aiohttp.ClientSession() as session:
        yield ApiClient(session, str(server.make_url("")).rstrip("/"))
    await server.close()


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
