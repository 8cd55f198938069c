"""Migrations: applied in order, each once, safe when two processes start at once."""

from __future__ import annotations

import asyncio
import re
import sys
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
