"""Test database: a DSN from $RESELLER_TEST_DSN when set, else an embedded server for the session.

Either way the suite works in a database of its own (created here, dropped at the end), migrated
once; each test that uses it starts from empty tables (TRUNCATE, ~10 ms).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import pytest_asyncio

from reseller import db, migrations
from reseller.embedded_pg import EmbeddedPostgres


def with_database(dsn: str, name: str) -> str:
    """The same server, another database."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def server_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if dsn := os.environ.get("RESELLER_TEST_DSN"):
        yield dsn
        return
    with EmbeddedPostgres(tmp_path_factory.mktemp("pg") / "data", fast=True) as server:
        yield server.dsn


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def database_factory(server_dsn: str) -> AsyncIterator[object]:
    """Creates empty databases on the test server and drops them all at the end."""
    admin = await asyncpg.connect(server_dsn)
    created: list[str] = []

    async def create() -> str:
        name = f"reseller_test_{secrets.token_hex(4)}"
        await admin.execute(f'CREATE DATABASE "{name}"')  # name is ours, not input
        created.append(name)
        return with_database(server_dsn, name)

    yield create
    for name in created:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def dsn(database_factory) -> str:
    """The suite's migrated database."""
    url = await database_factory()
    async with db.connection(url) as conn:
        await migrations.migrate(conn)
    return url


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def _session_pool(dsn: str) -> AsyncIterator[db.Database]:
    pool = await db.create_pool(dsn, min_size=2, max_size=20)
    yield pool
    await pool.close()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def _emptying(_session_pool: db.Database) -> str:
    """What empties every table and restarts every sequence between tests. TRUNCATE took
    0.16 s a test on a server with fsync on (a new file per table); deleting the few rows a test
    leaves takes a millisecond, with the foreign-key triggers off (a superuser's right), which
    is what the test servers give. Without that right: TRUNCATE."""
    async with _session_pool.session() as conn:
        tables = [
            f'"{r["tablename"]}"'
            for r in await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                " AND tablename <> 'schema_migrations'"
            )
        ]
        superuser = await conn.fetchval("SELECT current_setting('is_superuser')") == "on"
    if not superuser:
        return f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"
    return (
        "SET session_replication_role = replica;"
        + "".join(f"DELETE FROM {t};" for t in tables)
        + "SELECT setval(oid, 1, false) FROM pg_class"
        " WHERE relkind = 'S' AND relnamespace = 'public'::regnamespace;"
        "RESET session_replication_role;"
    )


@pytest_asyncio.fixture(loop_scope="session")
async def pool(_session_pool: db.Database, _emptying: str) -> db.Database:
    """The session pool over empty tables."""
    async with _session_pool.session() as conn:
        await conn.execute(_emptying)
    return _session_pool


@pytest.fixture
def cli_env(
    dsn: str, pool: db.Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> dict[str, str]:
    """Environment for running the CLI against the test database, from a clean folder."""
    monkeypatch.setenv("RESELLER_DSN", dsn)
    monkeypatch.delenv("RESELLER_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    return {**os.environ, "RESELLER_DSN": dsn}


# --- the API over real HTTP ---

CATALOG_YAML = """
providers:
  - {name: sim, url: "http://127.0.0.1:9/api/v2", key_env: SIM_KEY}
services:
  - {id: 1, name: Followers, category: Instagram, type: Default, provider: sim,
     upstream_service: 101, rate: "0.90", min: 50, max: 10000, refill: true, cancel: true,
     dripfeed: true}
  - {id: 2, name: Likes no refill, category: Instagram, type: Default, provider: sim,
     upstream_service: 102, rate: "1.23456", min: 10, max: 1000}
  - {id: 3, name: Package, category: Packages, type: Package, provider: sim,
     upstream_service: 103, rate: "5.5", min: 1, max: 1}
  - {id: 4, name: SEO, category: Web, type: SEO, provider: sim, upstream_service: 104,
     rate: "2", min: 100, max: 5000}
  - {id: 5, name: Comments, category: Instagram, type: Custom Comments, provider: sim,
     upstream_service: 105, rate: "10", min: 1, max: 100}
  - {id: 6, name: Comments Package, category: Instagram, type: Custom Comments Package,
     provider: sim, upstream_service: 106, rate: "3", min: 1, max: 1}
  - {id: 7, name: Mentions, category: Instagram, type: Mentions, provider: sim,
     upstream_service: 107, rate: "4", min: 10, max: 1000}
  - {id: 8, name: Mentions Hashtags, category: Instagram, type: Mentions with Hashtags,
     provider: sim, upstream_service: 108, rate: "4", min: 10, max: 1000}
  - {id: 9, name: Mentions List, category: Instagram, type: Mentions Custom List, provider: sim,
     upstream_service: 109, rate: "4", min: 1, max: 1000}
  - {id: 10, name: Mentions Hashtag, category: Instagram, type: Mentions Hashtag, provider: sim,
     upstream_service: 110, rate: "4", min: 10, max: 1000}
  - {id: 11, name: Mentions Followers, category: Instagram, type: Mentions User Followers,
     provider: sim, upstream_service: 111, rate: "4", min: 10, max: 1000}
  - {id: 12, name: Mentions Likers, category: Instagram, type: Mentions Media Likers,
     provider: sim, upstream_service: 112, rate: "4", min: 10, max: 1000}
  - {id: 13, name: Comment Likes, category: Instagram, type: Comment Likes, provider: sim,
     upstream_service: 113, rate: "4", min: 10, max: 1000}
  - {id: 14, name: Comment Replies, category: Instagram, type: Comment Replies, provider: sim,
     upstream_service: 114, rate: "4", min: 1, max: 1000}
  - {id: 15, name: Poll, category: Telegram, type: Poll, provider: sim, upstream_service: 115,
     rate: "1", min: 10, max: 1000}
  - {id: 16, name: Invites, category: Telegram, type: Invites from Groups, provider: sim,
     upstream_service: 116, rate: "1", min: 10, max: 1000}
  - {id: 17, name: Subscriptions, category: Instagram, type: Subscriptions, provider: sim,
     upstream_service: 117, rate: "1", min: 10, max: 1000}
  - {id: 18, name: Web Traffic, category: Web, type: Web Traffic, provider: sim,
     upstream_service: 118, rate: "0.5", min: 100, max: 100000, dripfeed: true}
"""


class ApiClient:
    """Calls /api/v2 over HTTP the three ways real clients do."""

    def __init__(self, session, url: str) -> None:
        self.session = session
        self.url = url

    async def raw(self, encoding: str = "form", path: str = "/api/v2", **fields):
        url = self.url + path
        if encoding == "form":
            request = self.session.post(
                url, data={k: str(v) for k, v in fields.items()}, allow_redirects=False
            )
        elif encoding == "query":
            request = self.session.get(
                url, params={k: str(v) for k, v in fields.items()}, allow_redirects=False
            )
        else:
            request = self.session.post(url, json=fields, allow_redirects=False)
        async with request as response:
            return response.status, response.headers.get("Content-Type", ""), await response.read()

    async def call(self, encoding: str = "form", **fields):
        import orjson

        status, content_type, body = await self.raw(encoding, **fields)
        assert status == 200, body
        assert content_type.startswith("application/json")
        return orjson.loads(body)


@pytest.fixture
def info_logs() -> Iterator[None]:
    """Info lines reach capture_logs: a CLI command run in-process earlier in this worker
    leaves structlog filtering below WARNING. For modules that assert on info lines:
    `pytestmark = pytest.mark.usefixtures("info_logs")`."""
    import logging

    from reseller import logs

    previous = logs.set_level(logging.INFO)
    yield
    logs.set_level(previous)


@pytest_asyncio.fixture(loop_scope="session")
async def api(pool: db.Database) -> AsyncIterator[ApiClient]:
    """The real app on a loopback port, with a catalog of every service type."""
    import aiohttp
    from aiohttp.test_utils import TestServer

    from reseller import config
    from reseller.api.app import create_app
    from reseller.catalog import sync as catalog_sync

    # Without the wait on throttled wrong keys: these tests send them by the thousand
    # (hypothesis, fragments as keys); test_auth_flood tests the wait.
    settings = config.parse(CATALOG_YAML + "api: {failed_auth_delay_seconds: 0}\n")
    await catalog_sync.rebuild(pool, settings)  # as `serve` does at start; the app only reads
    server = TestServer(create_app(settings, pool=pool), host="127.0.0.1")
    await server.start_server()
    async with aiohttp.ClientSession() as session:
        yield ApiClient(session, str(server.make_url("")).rstrip("/"))
    await server.close()


# --- the simulated upstream panel over real HTTP ---


class SimPanel:
    def __init__(self, server, state) -> None:
        self.server = server
        self.state = state
        self.url = str(server.make_url("/api/v2"))


@pytest_asyncio.fixture(loop_scope="session")
async def sim(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SimPanel]:
    """A simulated provider on a loopback port; its key is in $SIM_TEST_KEY."""
    from aiohttp.test_utils import TestServer

    from reseller.simulator import SIM, SimConfig, create_app

    monkeypatch.setenv("SIM_TEST_KEY", "sim-key")
    app = create_app(SimConfig(key="sim-key", seed=7, tick=0.05))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield SimPanel(server, app[SIM])
    await server.close()


# --- the whole path: API → dispatcher → simulated provider ---

STACK_YAML = """
providers:
  - {{name: sim, url: "{url}", key_env: SIM_TEST_KEY, timeout: 0.5,
     requests_per_minute: 600000, max_concurrency: 50}}
dispatch: {{retry_seconds: 0.02, scan_seconds: 0.05, max_attempts: 3,
           inline_errors: {inline}, stop_grace_seconds: 0.5, link_wait_seconds: 0.2}}
sync: {{min_poll_seconds: 0.01, max_poll_errors: 2}}
pricing: {{markup_percent: 50}}
services:
  - {{id: 1, provider: sim, upstream_service: 1}}
  - id: 2
    upstreams: [{{provider: sim, service: 404}}, {{provider: sim, service: 1}}]
  - {{id: 3, provider: sim, upstream_service: 3}}
"""


class Stack:
    """The real app with a dispatcher, a customer, and a simulated provider."""

    def __init__(self, api, sim, pool, dispatcher, upstreams, live, key) -> None:
        from reseller.jobs.scheduler import Jobs

        self.api, self.sim, self.pool = api, sim, pool
        self.dispatcher, self.upstreams, self.live, self.key = dispatcher, upstreams, live, key
        self.jobs = Jobs(pool, live, upstreams)

    async def add(self, service: int = 1, link: str = "https://ig.com/p", quantity: int = 100):
        return await self.api.call(
            key=self.key, action="add", service=service, link=link, quantity=quantity
        )

    async def order(self, order_id: int):
        return await self.pool.fetchrow("SELECT * FROM orders WHERE id = $1", order_id)

    async def settle(self, within: float = 10.0) -> None:
        """Run the queue until nothing is queued (but orders waiting for their link) or in
        flight."""
        import asyncio
        import time

        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            await self.dispatcher.scan_once()
            busy = await self.pool.fetchval(
                "SELECT count(*) FROM orders WHERE dispatch_state = 'sending'"
                " OR (dispatch_state = 'queued' AND waiting_since IS NULL)"
            )
            if busy == 0 and not self.dispatcher.busy():
                return
            await asyncio.sleep(0.02)
        raise AssertionError("dispatch did not settle")


@asynccontextmanager
async def running_stack(pool, sim, live) -> AsyncIterator[Stack]:
    """The real app and a dispatcher on `live`'s config, its catalog synced from the providers,
    and a customer "acme" with 100 of balance; everything stopped on the way out."""
    import aiohttp
    from aiohttp.test_utils import TestServer

    from reseller import customers
    from reseller.api.app import create_app
    from reseller.catalog import sync as catalog_sync
    from reseller.jobs.dispatch import Dispatcher
    from reseller.upstream import Upstreams

    upstreams = Upstreams(live.current.providers)
    await catalog_sync.sync(pool, live.current, upstreams)
    dispatcher = Dispatcher(pool, live, upstreams)
    _, key = await customers.create(pool, "acme", balance=Decimal(100))
    server = TestServer(create_app(live, pool=pool, dispatcher=dispatcher), host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            api = ApiClient(session, str(server.make_url("")).rstrip("/"))
            yield Stack(api, sim, pool, dispatcher, upstreams, live, key)
    finally:
        await dispatcher.stop(1.0)
        await server.close()
        await upstreams.close()


async def _stack(pool, sim, *, inline: bool) -> AsyncIterator[Stack]:
    from reseller import config

    live = config.LiveConfig(
        config.parse(STACK_YAML.format(url=sim.url, inline=str(inline).lower()))
    )
    async with running_stack(pool, sim, live) as stack:
        yield stack


@pytest_asyncio.fixture(loop_scope="session")
async def stack(pool, sim) -> AsyncIterator[Stack]:
    async for s in _stack(pool, sim, inline=False):
        yield s


@pytest_asyncio.fixture(loop_scope="session")
async def inline_stack(pool, sim) -> AsyncIterator[Stack]:
    async for s in _stack(pool, sim, inline=True):
        yield s


@pytest.fixture
def operator(stack, cli_env, tmp_path: Path) -> None:
    """Operator commands run where a config naming the stack's simulated provider is (commands
    that ask the provider, such as `orders resolve`, need it)."""
    (tmp_path / "config.yaml").write_text(
        f'providers:\n  - {{name: sim, url: "{stack.sim.url}", key_env: SIM_TEST_KEY,'
        " timeout: 0.5}\n"
    )


@pytest_asyncio.fixture(loop_scope="session")
async def stack_console(stack):
    """The console over the stack's database, config and provider clients; not signed in
    (`console_client.ADMIN` and `VIEWER` may)."""
    from console_client import serving

    async with serving(stack.live, stack.pool, stack.upstreams) as console:
        yield console
