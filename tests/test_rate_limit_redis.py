"""With `api.rate_limit_redis_env` the request limits hold across processes and hosts: two apps
(two processes' worth of memory) sharing one Redis give a customer, and an address sending wrong
keys, their limit once in total. Redis away never fails a request: each process falls back to
its own buckets, one line says so (never quoting the URL, a secret), and a dead Redis is tried
again only every few seconds.

Tests that need a Redis use $RESELLER_TEST_REDIS_URL (default redis://127.0.0.1:6379/0) and
skip, saying why, where none answers. Others may use that Redis too: each test keeps its keys
under a prefix of its own and deletes only those.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import pytest
import pytest_asyncio
import redis.asyncio
from aiohttp.test_utils import TestServer
from conftest import ApiClient
from structlog.testing import capture_logs
from support import free_port

from reseller import config, config_check, customers, db, errors
from reseller.api.app import create_app
from reseller.api.appkeys import REDIS_BUCKETS
from reseller.api.ratelimit import RateLimiter
from reseller.api.ratelimit_redis import RETRY_SECONDS, RedisBuckets

pytestmark = pytest.mark.usefixtures("info_logs")

TEST_URL = os.environ.get("RESELLER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
VARIABLE = "RESELLER_TEST_RATE_LIMIT_REDIS"  # the variable the config names
SHARED_YAML = (
    f"api: {{rate_limit_redis_env: {VARIABLE}, failed_auth_per_minute: 5,"
    " failed_auth_delay_seconds: 0.05, client_address_header: X-Real-IP}\n"
)
PASSWORD = "pw-" + secrets.token_hex(8)
TOO_MANY = (429, b'{"error":"Too many requests"}')
INVALID_KEY = (200, b'{"error":"Invalid API key"}')
ADDRESS = "203.0.113.7"


@dataclass(frozen=True)
class Keys:
    """This test's corner of the test Redis."""

    url: str
    prefix: str
    client: redis.asyncio.Redis


def without_credentials(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


@pytest_asyncio.fixture(loop_scope="session")
async def keys() -> AsyncIterator[Keys]:
    client = redis.asyncio.Redis.from_url(TEST_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        await client.ping()
    except (redis.RedisError, OSError):
        await client.aclose()
        pytest.skip(f"no Redis at {without_credentials(TEST_URL)} (set RESELLER_TEST_REDIS_URL)")
    prefix = f"reseller-test:{secrets.token_hex(6)}"
    yield Keys(TEST_URL, prefix, client)
    if ours := [key async for key in client.scan_iter(match=f"{prefix}:*")]:
        await client.delete(*ours)
    await client.aclose()


@contextlib.asynccontextmanager
async def serving(pool: db.Database, prefix: str) -> AsyncIterator[ApiClient]:
    app = create_app(config.parse(SHARED_YAML), pool=pool, rate_limit_prefix=prefix)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            yield ApiClient(session, str(server.make_url("")).rstrip("/"))
    finally:
        await server.close()


async def balance(api: ApiClient, key: str, address: str = "192.0.2.10") -> tuple[int, bytes]:
    async with api.session.post(
        api.url + "/api/v2", data={"key": key, "action": "balance"}, headers={"X-Real-IP": address}
    ) as response:
        return response.status, await response.read()


async def customer_key(pool: db.Database, *, per_minute: int) -> str:
    customer, key = await customers.create(pool, "acme", balance=Decimal(5))
    await pool.execute(
        "UPDATE customers SET rate_limit_per_minute = $1 WHERE id = $2", per_minute, customer.id
    )
    return key


# --- shared by every process ---


async def test_two_apps_sharing_redis_serve_a_customer_its_limit_once_in_total(
    pool, keys, monkeypatch
) -> None:
    monkeypatch.setenv(VARIABLE, keys.url)
    key = await customer_key(pool, per_minute=5)
    async with serving(pool, keys.prefix) as one, serving(pool, keys.prefix) as two:
        statuses = [(await balance(api, key))[0] for api in [one, two] * 5]
        # Alone, each app would have served all five of its own.
        assert statuses == [200] * 5 + [429] * 5
        assert await balance(one, key) == TOO_MANY
        assert await balance(two, key) == TOO_MANY


async def test_wrong_keys_from_one_address_are_limited_across_two_apps(
    pool, keys, monkeypatch
) -> None:
    monkeypatch.setenv(VARIABLE, keys.url)
    async with serving(pool, keys.prefix) as one, serving(pool, keys.prefix) as two:
        answers = [await balance(api, secrets.token_hex(16), ADDRESS) for api in [one, two] * 5]
        assert answers[:5] == [INVALID_KEY] * 5
        assert answers[5:] == [TOO_MANY] * 5
        for api in (one, two):  # another address is not held
            assert await balance(api, "wrong", "203.0.113.8") == INVALID_KEY


async def test_the_script_allows_a_burst_of_the_limit_then_the_steady_rate(keys) -> None:
    buckets = RedisBuckets(keys.url, prefix=keys.prefix)
    try:
        burst = [await buckets.check("customer:1", 120, spend=True) for _ in range(121)]
        assert burst == [True] * 120 + [False]
        odd = [await buckets.check("customer:2", 7, spend=True) for _ in range(8)]
        assert odd == [True] * 7 + [False]  # a limit that does not divide a minute evenly
        # Empty: full again, and the key gone, a minute after (by Redis's clock).
        assert 59_000 < await keys.client.pttl(f"{keys.prefix}:customer:1") <= 60_000
        await asyncio.sleep(0.55)  # 120 per minute: one request every 0.5 s
        assert [await buckets.check("customer:1", 120, spend=True) for _ in range(2)] == [
            True,
            False,
        ]
    finally:
        await buckets.close()


async def test_looking_at_a_bucket_spends_nothing(keys) -> None:
    buckets = RedisBuckets(keys.url, prefix=keys.prefix)
    try:
        assert await buckets.check("failed_auth:a", 3, spend=False) is True
        assert await keys.client.exists(f"{keys.prefix}:failed_auth:a") == 0
        for _ in range(2):
            assert await buckets.check("failed_auth:a", 3, spend=True) is True
        looks = [await buckets.check("failed_auth:a", 3, spend=False) for _ in range(5)]
        assert looks == [True] * 5
        assert await buckets.check("failed_auth:a", 3, spend=True) is True
        assert await buckets.check("failed_auth:a", 3, spend=False) is False
    finally:
        await buckets.close()


# --- Redis away ---


async def test_without_redis_the_limit_is_per_process_and_one_line_says_so_without_the_url(
    pool, monkeypatch, caplog
) -> None:
    url = f"redis://reseller:{PASSWORD}@127.0.0.1:{free_port()}/0"  # nothing listens there
    monkeypatch.setenv(VARIABLE, url)
    key = await customer_key(pool, per_minute=3)
    with capture_logs() as logs:
        async with serving(pool, f"reseller-test:{secrets.token_hex(6)}") as api:
            # At once: every request in flight meets the dead Redis, one line says so.
            answers = await asyncio.gather(*(balance(api, key) for _ in range(5)))
    assert sorted(status for status, _ in answers) == [200, 200, 200, 429, 429]
    # Whichever three came first were served: the order of concurrent requests is not fixed.
    assert sum(b'"balance":"5.00"' in body for _, body in answers) == 3
    unavailable = [line for line in logs if line["event"] == "rate_limit_redis_unavailable"]
    assert len(unavailable) == 1
    assert unavailable[0]["error"] == "ConnectionError"
    assert all(PASSWORD not in repr(line) and url not in repr(line) for line in logs)
    assert PASSWORD not in caplog.text


class SilentServer:
    """Accepts connections and never answers: a Redis that hangs."""

    def __init__(self) -> None:
        self.connections = 0

    async def hold(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        await reader.read()  # until the client gives up
        writer.close()


async def test_a_hanging_redis_delays_one_request_not_every_one(pool, monkeypatch) -> None:
    silent = SilentServer()
    server = await asyncio.start_server(silent.hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    monkeypatch.setenv(VARIABLE, f"redis://127.0.0.1:{port}/0")
    key = await customer_key(pool, per_minute=300)
    try:
        async with serving(pool, f"reseller-test:{secrets.token_hex(6)}") as api:
            started = time.monotonic()
            statuses = [(await balance(api, key))[0] for _ in range(10)]
            elapsed = time.monotonic() - started
    finally:
        server.close()
    assert statuses == [200] * 10
    # The first request waits out the command timeout (0.2 s); tried each time, ten would
    # wait 2 s.
    assert elapsed < 1.0
    assert silent.connections == 1


class Relay:
    """A TCP relay to the test Redis that can be cut and restored, on a fixed port."""

    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 6379)
        self.port = free_port()
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{userinfo}@127.0.0.1:{self.port}" if userinfo else f"127.0.0.1:{self.port}"
        self.url = urlunsplit(parts._replace(netloc=netloc))
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def down(self) -> None:
        assert self._server is not None
        self._server.close()
        self.drop()

    def drop(self) -> None:
        """Close the connections open now (as a server restart or an idle proxy does)."""
        for writer in self._open:
            writer.close()
        self._open.clear()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        self._open |= {writer, upstream_writer}
        await asyncio.gather(
            self._copy(reader, upstream_writer), self._copy(upstream_reader, writer)
        )

    @staticmethod
    async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()


async def test_redis_coming_back_is_logged_and_shared_again_after_the_retry_delay(keys) -> None:
    if urlsplit(keys.url).scheme == "unix":
        pytest.skip("the relay speaks TCP; RESELLER_TEST_REDIS_URL is a Unix socket")
    relay = Relay(keys.url)
    await relay.up()
    now = [0.0]
    buckets = RedisBuckets(relay.url, prefix=keys.prefix, clock=lambda: now[0])
    limiter = buckets.limiter("customer", fallback=RateLimiter(3))
    try:
        with capture_logs() as logs:
            assert await limiter.allow(1)  # in Redis: one of three spent
            await relay.down()
            # This process's own bucket, full: three more.
            assert [await limiter.allow(1) for _ in range(4)] == [True, True, True, False]
            await relay.up()
            now[0] += RETRY_SECONDS - 0.1
            assert not await limiter.allow(1)  # not tried yet: still the own bucket
            now[0] += 0.2
            assert [await limiter.allow(1) for _ in range(3)] == [True, True, False]  # Redis's
        assert [line["event"] for line in logs] == [
            "rate_limit_redis_unavailable",
            "rate_limit_redis_restored",
        ]
    finally:
        await buckets.close()
        await relay.down()


async def test_a_dropped_connection_is_reopened_without_falling_back(keys) -> None:
    if urlsplit(keys.url).scheme == "unix":
        pytest.skip("the relay speaks TCP; RESELLER_TEST_REDIS_URL is a Unix socket")
    relay = Relay(keys.url)
    await relay.up()
    buckets = RedisBuckets(relay.url, prefix=keys.prefix)
    try:
        with capture_logs() as logs:
            assert await buckets.check("customer:1", 2, spend=True) is True
            relay.drop()
            await asyncio.sleep(0.05)  # the client's pooled connection is closed by now
            assert await buckets.check("customer:1", 2, spend=True) is True  # Redis's answer
            assert await buckets.check("customer:1", 2, spend=True) is False
        assert logs == []
    finally:
        await buckets.close()
        await relay.down()


# --- configuration ---


async def test_a_named_but_unset_variable_leaves_the_limit_per_process_and_is_reported(
    pool, monkeypatch
) -> None:
    monkeypatch.delenv(VARIABLE, raising=False)
    key = await customer_key(pool, per_minute=2)
    with capture_logs() as logs:
        async with serving(pool, "unused") as api:
            assert [(await balance(api, key))[0] for _ in range(3)] == [200, 200, 429]
    assert [line for line in logs if line["event"] == "rate_limit_redis_not_set"] == [
        {
            "event": "rate_limit_redis_not_set",
            "variable": VARIABLE,
            "fallback": "per process",
            "log_level": "warning",
        }
    ]
    settings = config.parse(SHARED_YAML)
    assert REDIS_BUCKETS not in create_app(settings, pool=pool)
    assert await config_check.problems(settings, pool) == [
        f"api.rate_limit_redis_env: environment variable {VARIABLE} is not set"
    ]


async def test_a_variable_holding_no_redis_url_is_refused_at_start_without_its_value(
    pool, monkeypatch
) -> None:
    monkeypatch.setenv(VARIABLE, f"http://reseller:{PASSWORD}@cache.internal:6379/0")
    settings = config.parse(SHARED_YAML)
    with pytest.raises(errors.ConfigError) as refused:
        create_app(settings, pool=pool)
    message = refused.value.message
    assert message.startswith(f"api.rate_limit_redis_env: {VARIABLE} does not hold a Redis URL")
    assert "redis://, rediss://, unix://" in message
    assert PASSWORD not in message
    assert await config_check.problems(settings, pool) == [message]
