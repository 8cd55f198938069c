"""Migrations: applied in order, each once, safe when two processes start at once."""

from __future__ import annotations

import asyncio
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

from reseller import db, migrations


async def applied_names(url: str) -> list[str]:
    async with db.connection(url) as conn:
        return [r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")]


async def test_migrate_applies_every_file_once_and_then_nothing(database_factory) -> None:
    url = await database_factory()
    files = [p.name for p in migrations.migration_files()]
    async with db.connection(url) as conn:
        assert await migrations.migrate(conn) == files
        assert await migrations.migrate(conn) == []
    assert sorted(await applied_names(url)) == files


async def test_concurrent_migrations_apply_each_file_exactly_once(database_factory) -> None:
    url = await database_factory()
    conns = [await db.connect(url) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrations.migrate(c) for c in conns))
    finally:
        for conn in conns:
            await conn.close()
    files = [p.name for p in migrations.migration_files()]
    assert sorted(name for applied in results for name in applied) == files
    assert sorted(await applied_names(url)) == files


async def test_two_migrate_processes_started_together_both_succeed(database_factory) -> None:
    url = await database_factory()
    env = {"RESELLER_DSN": url, "PATH": ""}
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "reseller",
            "--no-config",
            "migrate",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outputs = await asyncio.gather(*(p.communicate() for p in procs))
    assert [p.returncode for p in procs] == [0, 0], outputs
    said = b"".join(out for out, _ in outputs).decode()
    assert said.count("applied 001_init.sql") == 1
    assert "database is up to date" in said


def test_migration_files_ship_inside_the_package() -> None:
    # The wheel maps sql/ to reseller/sql; a checkout reads sql/ beside the package.
    assert (db.sql_dir() / "001_init.sql").is_file()
    assert (db.sql_dir() / "queries").is_dir()


async def test_every_column_the_migrations_leave_is_named_by_a_query_or_the_code(
    database_factory,
) -> None:
    # A column nothing names is never written nor read, and misleads a reader of the schema
    # (orders.cost_currency was one). Any mention counts: this finds columns nobody names, not
    # columns merely unread.
    url = await database_factory()
    async with db.connection(url) as conn:
        await migrations.migrate(conn)
        columns = await conn.fetch(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = 'public'"
        )
    package = Path(db.__file__).parent
    code = "\n".join(
        path.read_text(encoding="utf-8")
        for path in [*(db.sql_dir() / "queries").glob("*.sql"), *package.rglob("*.py")]
    )
    unnamed = [
        f"{c['table_name']}.{c['column_name']}"
        for c in columns
        if not re.search(rf"\b{re.escape(c['column_name'])}\b", code)
    ]
    assert unnamed == []


async def test_upgrading_to_link_keys_keys_the_orders_still_open(
    database_factory, tmp_path: Path
) -> None:
    """Orders placed before link keys were kept and still open must hold their link too: the
    migration that adds the key computes it for them (and leaves settled ones alone)."""
    url = await database_factory()
    before = tmp_path / "before"
    before.mkdir()
    for path in migrations.migration_files():
        if path.name < "017":
            (before / path.name).write_text(path.read_text())
    link = "https://www.instagram.com/p/CxYz123/?utm_source=ig_web_copy_link"
    async with db.connection(url) as conn:
        await migrations.migrate(conn, before)
        await conn.execute(
            "INSERT INTO customers (name, api_key_hash) VALUES ('acme', 'k');"
            "INSERT INTO services (id, name, type, category, rate, min_quantity, max_quantity)"
            " VALUES (1, 'Likes', 'Default', 'IG', 1, 10, 1000)"
        )
        insert = (
            "INSERT INTO orders (customer_id, service_id, link, quantity, charge, currency,"
            " settled_at) VALUES (1, 1, $1, 100, 0.1, 'USD', $2) RETURNING id"
        )
        still_open = await conn.fetchval(insert, link, None)
        settled = await conn.fetchval(insert, link, datetime.now(UTC))
        assert "017_link_wait.sql" in await migrations.migrate(conn)
        keys = dict(await conn.fetch("SELECT id, link_key FROM orders"))
    assert keys == {still_open: "instagram.com/p/CxYz123", settled: None}
