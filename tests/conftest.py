"""Test database: a DSN from $RESELLER_TEST_DSN when set, else an embedded server for the session.

Either way the suite works in a database of its own (created here, dropped at the end), migrated
once; each test that uses it starts from empty tables (TRUNCATE, ~10 ms).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
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
async def _session_pool(dsn: str) -> AsyncIterator[db.Pool]:
    pool = await db.create_pool(dsn, min_size=2, max_size=20)
    yield pool
    await pool.close()


@pytest_asyncio.fixture(loop_scope="session")
async def pool(_session_pool: db.Pool) -> db.Pool:
    """The session pool over empty tables."""
    async with _session_pool.acquire() as conn:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            " AND tablename <> 'schema_migrations'"
        )
        names = ", ".join(f'"{t["tablename"]}"' for t in tables)
        await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    return _session_pool


@pytest.fixture
def cli_env(
    dsn: str, pool: db.Pool, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> dict[str, str]:
    """Environment for running the CLI against the test database, from a clean folder."""
    monkeypatch.setenv("RESELLER_DSN", dsn)
    monkeypatch.delenv("RESELLER_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    return {**os.environ, "RESELLER_DSN": dsn}
