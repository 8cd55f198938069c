"""Backing the database up to one file, and restoring it from one.

A backup is a `pg_dump --format=custom` file: schema and data of every table, the migrations
table included, from one snapshot (consistent while the service runs), compressed. It is written
beside its destination and renamed into place only once complete and synced, mode 0600: it holds
the ledger and the API key hashes.

A restore goes into an empty database, or (`replace`) over what a non-empty one holds. pg_restore
turns the file into SQL that psql runs in one transaction, committed only once pg_restore has
read the whole file without error: a damaged file, a failed statement or an interrupted run leave
the database as it was. The migrations then bring it up to date, and the audit trail records it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from reseller import audit, db, embedded_pg, errors, migrations, pgtools
from reseller.config import DatabaseConfig
from reseller.db import Q

_CHUNK = 1 << 16
_MIGRATIONS_TABLE = re.compile(r"^\d+; \d+ \d+ TABLE public schema_migrations ", re.MULTILINE)


class BackupError(errors.ResellerError):
    """Backup or restore refused or failed"""


@dataclass(frozen=True, slots=True)
class Facts:
    server_major: int
    server_version: str
    tables: list[str]
    other_sessions: int


@dataclass(frozen=True, slots=True)
class Made:
    server_version: str
    size: int
    seconds: float
    tool: pgtools.Tool


@dataclass(frozen=True, slots=True)
class Archive:
    """A backup file, as its header describes it."""

    path: Path
    created: str  # "2026-11-30 07:07:48 UTC"
    source_version: str  # of the server it was taken from
    dumped_by: str  # pg_dump's version

    @property
    def source_major(self) -> int:
        return int(self.source_version.split(".")[0])

    @property
    def dumped_by_major(self) -> int:
        return int(self.dumped_by.split(".")[0])


@dataclass(frozen=True, slots=True)
class Restored:
    tool: pgtools.Tool
    replaced: list[str]  # the tables the database held before
    applied: list[str]  # migrations applied after it
    seconds: float


def require_embedded_cluster(config: DatabaseConfig) -> None:
    """Without a DSN, there must be a cluster to back up: starting the embedded server on an
    empty folder would create one (the wrong folder, most likely: RESELLER_DATA_DIR unset)."""
    folder = config.embedded_dir() / "postgres"  # where dbserver.database keeps it
    if config.dsn() is None and not (folder / "PG_VERSION").is_file():
        raise BackupError(
            f"no database to back up: {folder} holds no embedded PostgreSQL; point"
            f" RESELLER_DATA_DIR (or database.data_dir) at the service's folder, or set"
            f" ${config.dsn_env}"
        )


async def backup(dsn: str, target: Path) -> Made:
    facts = await _facts(dsn)
    if "schema_migrations" not in facts.tables:
        raise BackupError("nothing to back up: the database has no reseller tables")
    tool = pgtools.choose("pg_dump", facts.server_major)
    conninfo, env = pgtools.libpq_args(dsn)
    started = time.monotonic()
    try:
        fd, partial = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".partial"
        )
    except OSError as exc:
        raise BackupError(f"cannot write {target}: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "wb") as out:
            failure = await _run(
                [tool.path, "--format=custom", "--no-password", "--dbname", conninfo],
                stdout=out,
                env=env,
            )
            if failure is not None:
                raise BackupError(f"backup failed, {target} not written: {failure}")
            os.fsync(out.fileno())
            size = os.fstat(out.fileno()).st_size
        os.replace(partial, target)
        _fsync_folder(target.parent)
    except OSError as exc:  # disk full, folder gone: never half a file at the destination
        _remove(partial)
        raise BackupError(f"backup failed, {target} not written: {exc.strerror}") from exc
    except BaseException:
        _remove(partial)
        raise
    return Made(facts.server_version, size, time.monotonic() - started, tool)


def read_archive(path: Path) -> Archive:
    """The file's header, read by the wheel's pg_restore (which reads every archive version up
    to its own); refused unless it is a backup of a reseller database."""
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    pg_restore = embedded_pg.program("pg_restore")
    try:
        listing = subprocess.run(
            [pg_restore, "--list", str(path)],
            capture_output=True,
            text=True,
            errors="replace",
            check=False,
        )
    except OSError as exc:
        raise BackupError(f"cannot run {pg_restore}: {exc.strerror}") from exc
    if listing.returncode != 0:
        raise BackupError(f"{path} is not a backup: {_first_error(listing.stderr)}")
    header = dict(
        re.findall(
            r"^;\s+(Archive created at|Dumped from database version:|Dumped by pg_dump version:)"
            r" (\S.*)$",
            listing.stdout,
            re.MULTILINE,
        )
    )
    if not _MIGRATIONS_TABLE.search(listing.stdout):
        raise BackupError(f"{path} is a PostgreSQL backup, but not of a reseller database")
    return Archive(
        path,
        header.get("Archive created at", "at an unknown time"),
        header["Dumped from database version:"].split()[0],
        header["Dumped by pg_dump version:"].split()[0],
    )


async def restore(dsn: str, archive: Archive, *, replace: bool, actor: audit.Actor) -> Restored:
    facts = await _facts(dsn)
    if facts.other_sessions:
        raise BackupError(
            f"refused: {facts.other_sessions} other session(s) are connected to this database;"
            " stop `reseller serve` and `reseller worker` first (they would go on writing"
            " over what is restored)"
        )
    if facts.server_major < archive.source_major:
        raise BackupError(
            f"refused: the backup is of PostgreSQL {archive.source_version}; PostgreSQL cannot"
            f" load it into an older major version ({facts.server_version})"
        )
    if facts.tables and not replace:
        shown = ", ".join(facts.tables[:3]) + (", …" if len(facts.tables) > 3 else "")
        raise BackupError(
            f"refused: the database is not empty ({len(facts.tables)} tables: {shown});"
            " restore into an empty one, or pass --force to replace everything in it"
        )
    tool = pgtools.choose("pg_restore", facts.server_major, reads=archive.dumped_by_major)
    started = time.monotonic()
    await _load(tool, dsn, archive.path, drop_first=bool(facts.tables))
    async with db.connection(dsn) as conn:
        applied = await migrations.migrate(conn)
    detail = {
        "backup_made": archive.created,
        "of_postgresql": archive.source_version,
        "replaced_tables": len(facts.tables),
        "migrations_applied": applied,
    }
    pool = await db.create_pool(dsn, min_size=1, max_size=1)
    try:
        await audit.record(pool, actor, "restore", archive.path.name, detail)
    finally:
        await pool.close()
    return Restored(tool, facts.tables, applied, time.monotonic() - started)


async def _facts(dsn: str) -> Facts:
    async with db.connection(dsn) as conn:
        with db.translate_errors():
            row = await conn.fetchrow(Q.backup_facts)
    return Facts(**row)


async def _load(tool: pgtools.Tool, dsn: str, path: Path, *, drop_first: bool) -> None:
    """pg_restore's SQL through psql, in one transaction that is committed only when pg_restore
    has read the whole file without error (psql's own -1 would commit whatever it got)."""
    conninfo, env = pgtools.libpq_args(dsn)
    psql_argv = [tool.sibling("psql"), "--no-psqlrc", "--quiet", "--no-password"]
    psql = await _spawn(
        [*psql_argv, "--set=ON_ERROR_STOP=1", "--dbname", conninfo],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        env=env,
    )
    # Objects go to whoever restores (the service's own role), not to the roles of the
    # server the backup came from, which need not exist here.
    try:
        reader = await _spawn(
            [tool.path, "--no-owner", "--no-privileges", "--file=-", str(path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
        )
    except BackupError:
        psql.kill()
        await psql.wait()
        raise
    assert psql.stdin is not None
    assert psql.stderr is not None
    assert reader.stdout is not None
    assert reader.stderr is not None
    # Read both stderrs all along: a full pipe would stall the program writing to it.
    psql_errors = asyncio.create_task(psql.stderr.read())
    reader_errors = asyncio.create_task(reader.stderr.read())
    try:
        psql.stdin.write(b"BEGIN;\n")
        if drop_first:
            psql.stdin.write(Q.drop_public_objects.encode() + b"\n")
        while chunk := await reader.stdout.read(_CHUNK):
            psql.stdin.write(chunk)
            await psql.stdin.drain()
        if await reader.wait() == 0:
            psql.stdin.write(b"COMMIT;\n")
        psql.stdin.close()  # an end without COMMIT: the server rolls everything back
        await psql.stdin.wait_closed()
    except (BrokenPipeError, ConnectionResetError):
        pass  # psql stopped at a failed statement (ON_ERROR_STOP); its error says which
    finally:  # also when interrupted: psql sees its input end without COMMIT
        if reader.returncode is None:
            reader.kill()
            await reader.wait()
        if not psql.stdin.is_closing():
            psql.stdin.close()
        await psql.wait()
    said = [
        _first_error(text.decode(errors="replace"))
        for text in await asyncio.gather(reader_errors, psql_errors)
    ]
    if reader.returncode != 0:
        failure = said[0] or f"pg_restore exited with code {reader.returncode}"
    elif psql.returncode != 0:
        failure = said[1] or f"psql exited with code {psql.returncode}"
    else:
        return
    raise BackupError(f"restore failed, the database is unchanged: {failure}")


async def _run(argv: list[str], *, stdout: IO[bytes], env: dict[str, str]) -> str | None:
    """Run a program; None once it succeeded, else its error in one line."""
    proc = await _spawn(argv, stdin=subprocess.DEVNULL, stdout=stdout, env=env)
    _, stderr = await proc.communicate()
    if proc.returncode == 0:
        return None
    return _first_error(stderr.decode(errors="replace")) or f"exited with code {proc.returncode}"


async def _spawn(
    argv: list[str], *, stdin: int, stdout: int | IO[bytes], env: dict[str, str] | None = None
) -> asyncio.subprocess.Process:
    """A program with its stderr piped; one that cannot be started is a one-line error."""
    try:
        return await asyncio.create_subprocess_exec(
            *argv, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, env=env
        )
    except OSError as exc:
        raise BackupError(f"cannot run {argv[0]}: {exc.strerror}") from exc


def _first_error(stderr: str) -> str:
    """The line that says what went wrong (a program's "error:", the server's "ERROR:")."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        for mark in ("ERROR:", "FATAL:"):
            if mark in line:  # psql prefixes its own "psql:<stdin>:12: "
                return " ".join(line[line.index(mark) :].split())
        if "error:" in line:
            return " ".join(line.split())
    return lines[-1] if lines else ""


def _fsync_folder(folder: Path) -> None:
    """The rename is durable once the folder's entry is on disk."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
