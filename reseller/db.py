"""The data layer: the only module that talks to asyncpg.

SQL lives in `sql/queries/*.sql` as named blocks (`-- name: place_order`) and is called by
name (`Q.place_order`). The domain talks to the database through one object, `Database`
(statements, and `transaction()` for several in one), whose every call turns driver errors
into domain errors (`translate_errors`): nothing above this module sees an asyncpg exception.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from pathlib import Path
from typing import Any, TypeAlias

import asyncpg
import orjson

from reseller import errors

Connection: TypeAlias = asyncpg.Connection  # a raw session: migrations, LISTEN, session locks
Record: TypeAlias = asyncpg.Record


def sql_dir() -> Path:
    """`sql/` ships in the wheel as `reseller/sql`; a source checkout has it beside the package."""
    packaged = Path(__file__).parent / "sql"
    return packaged if packaged.is_dir() else Path(__file__).parent.parent / "sql"


class Queries:
    """Named SQL blocks, loaded once: `Q.name` is the text of the block `-- name: name`."""

    _HEADER = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)

    def __init__(self, folder: Path) -> None:
        self._blocks: dict[str, str] = {}
        for path in sorted(folder.glob("*.sql")):
            parts = self._HEADER.split(path.read_text(encoding="utf-8"))
            for name, body in zip(parts[1::2], parts[2::2], strict=True):
                if name in self._blocks:
                    raise RuntimeError(f"{path.name}: query {name} defined twice")
                self._blocks[name] = body.strip()

    def __getattr__(self, name: str) -> str:
        try:
            return self._blocks[name]
        except KeyError:
            raise AttributeError(f"no SQL query named {name!r}") from None


Q = Queries(sql_dir() / "queries")


async def _init_connection(conn: Connection) -> None:
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda value: orjson.dumps(value).decode(),
        decoder=orjson.loads,
        schema="pg_catalog",
    )


async def _keep_session(conn: Connection) -> None:
    """Pooled connections carry no session state (no SET, LISTEN or session locks outside a
    `with` that releases them), so the default reset query — an extra round trip per query —
    is skipped. asyncpg still rolls back a transaction left open."""


class Transaction:
    """Statements on one connection, in one transaction: all of them or none. Every driver
    error is translated, here as in `Database`."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def fetch(self, query: str, *args: Any) -> list[Record]:
        with translate_errors():
            return await self._conn.fetch(query, *args)  # type: ignore[no-any-return]

    async def fetchrow(self, query: str, *args: Any) -> Any:  # a Record, or None
        with translate_errors():
            return await self._conn.fetchrow(query, *args)

    async def fetchval(self, query: str, *args: Any) -> Any:
        with translate_errors():
            return await self._conn.fetchval(query, *args)

    async def execute(self, query: str, *args: Any) -> str:
        with translate_errors():
            return await self._conn.execute(query, *args)  # type: ignore[no-any-return]

    async def executemany(self, query: str, args: Any) -> None:
        with translate_errors():
            await self._conn.executemany(query, args)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """Statements that may fail alone: undone back to here, the transaction carries on."""
        with translate_errors():
            async with self._conn.transaction():
                yield


class Database:
    """The pool, as the domain uses it. A wait for a free connection is bounded by
    `acquire_timeout` (None: unbounded), like a statement by the server's statement_timeout."""

    def __init__(self, pool: asyncpg.Pool, *, acquire_timeout: float | None = None) -> None:
        self._pool = pool
        self._acquire_timeout = acquire_timeout

    def _acquire(self) -> Any:  # asyncpg's PoolAcquireContext
        # A free connection is taken at once; only a wait for one gets the timeout (asyncpg
        # pays a task per timed acquire on Python 3.11, too dear for every statement).
        timeout = None if self._pool.get_idle_size() else self._acquire_timeout
        return self._pool.acquire(timeout=timeout)

    async def fetch(self, query: str, *args: Any) -> list[Record]:
        with translate_errors():
            async with self._acquire() as conn:
                return await conn.fetch(query, *args)  # type: ignore[no-any-return]

    async def fetchrow(self, query: str, *args: Any) -> Any:
        with translate_errors():
            async with self._acquire() as conn:
                return await conn.fetchrow(query, *args)

    async def fetchval(self, query: str, *args: Any) -> Any:
        with translate_errors():
            async with self._acquire() as conn:
                return await conn.fetchval(query, *args)

    async def execute(self, query: str, *args: Any) -> str:
        with translate_errors():
            async with self._acquire() as conn:
                return await conn.execute(query, *args)  # type: ignore[no-any-return]

    async def executemany(self, query: str, args: Any) -> None:
        with translate_errors():
            async with self._acquire() as conn:
                await conn.executemany(query, args)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with translate_errors():
            async with self._acquire() as conn, conn.transaction():
                yield Transaction(conn)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[Connection]:
        """A connection of its own, for session state (an advisory lock held across
        statements); the caller leaves it clean, or terminates it."""
        with translate_errors():
            async with self._acquire() as conn:
                yield conn

    async def hold(self) -> Connection:
        """A connection kept out of the pool until `release` (a LISTEN that lasts)."""
        with translate_errors():
            return await self._acquire()  # type: ignore[no-any-return]

    async def release(self, conn: Connection) -> None:
        """Back to the pool; nothing to do for one asyncpg gave back itself when it was lost."""
        await self._pool.release(conn)

    @staticmethod
    def drop(conn: Connection) -> None:
        """Close a held connection for good (`release` then replaces it in the pool), unless
        asyncpg already detached it, lost with the database."""
        with suppress(asyncpg.InterfaceError):
            conn.terminate()

    async def close(self) -> None:
        await self._pool.close()

    def terminate(self) -> None:
        self._pool.terminate()


# What a statement can run on: the pool, or a transaction already open.
Executor: TypeAlias = Database | Transaction


async def create_pool(
    dsn: str, *, min_size: int, max_size: int, statement_timeout: float | None = None
) -> Database:
    """`statement_timeout`: the bound on any statement (the server's statement_timeout, lock waits
    included) and on a wait for a free connection; past it the call fails as unavailable."""
    settings: dict[str, Any] = {}
    if statement_timeout is not None:
        settings = {
            "server_settings": {"statement_timeout": str(round(statement_timeout * 1000))},
            # The client's own deadline comes a second later: it is for a server that stopped
            # answering at all, the server's own timeout ends a stalled statement cleanly.
            "command_timeout": statement_timeout + 1,
        }
    with translate_errors():
        pool = await asyncpg.create_pool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            init=_init_connection,
            reset=_keep_session,
            **settings,
        )
    return Database(pool, acquire_timeout=statement_timeout)


async def connect(dsn: str) -> Connection:
    with translate_errors():
        conn = await asyncpg.connect(dsn)
    await _init_connection(conn)
    return conn


@asynccontextmanager
async def connection(dsn: str) -> AsyncIterator[Connection]:
    conn = await connect(dsn)
    try:
        yield conn
    finally:
        await conn.close()


# Which constraint means which domain error.
_CONSTRAINT_ERRORS: dict[str, type[errors.ResellerError]] = {
    "customers_balance_check": errors.InsufficientBalance,
    "customers_name_key": errors.DuplicateName,
    "operators_name_key": errors.DuplicateName,
    "orders_provider_upstream_order_id_key": errors.DuplicateUpstreamOrder,
    "order_runs_provider_upstream_order_id_key": errors.DuplicateUpstreamOrder,
}

_UNAVAILABLE = (
    OSError,
    asyncpg.CannotConnectNowError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.QueryCanceledError,  # statement_timeout: a lock held too long, a stalled server
    # A connection broken mid-statement can leave the driver "in another operation".
    asyncpg.InternalClientError,
)


@contextmanager
def translate_errors() -> Iterator[None]:
    """Turn every driver error into a ResellerError: a constraint the domain names into its
    error, a lost or refused connection into DatabaseUnavailable, anything else (a bug, or a
    constraint nobody named) into DatabaseError."""
    try:
        yield
    except asyncpg.IntegrityConstraintViolationError as exc:
        error = _CONSTRAINT_ERRORS.get(getattr(exc, "constraint_name", None) or "")
        if error is None:
            raise errors.DatabaseError(f"Database error: {exc}") from exc
        raise error() from exc
    except _UNAVAILABLE as exc:
        raise errors.DatabaseUnavailable(f"Database unavailable: {exc}") from exc
    except asyncpg.PostgresError as exc:
        raise errors.DatabaseError(f"Database error: {exc}") from exc


async def ping(pool: Database) -> None:
    await pool.fetchval(Q.ping)


def is_unavailable(exc: BaseException) -> bool:
    """Whether an error means the database cannot be reached right now (not a bug). Only the
    data layer's errors count: an OSError or TimeoutError from elsewhere (a client hanging up)
    is no outage. A driver call's OSError or timeout arrives as DatabaseUnavailable already
    (`translate_errors`); a raw connection's errors are the driver's own classes."""
    return isinstance(exc, errors.DatabaseUnavailable) or (
        isinstance(exc, _UNAVAILABLE) and not isinstance(exc, OSError)
    )
