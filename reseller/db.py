"""The data layer: the only module that talks to asyncpg.

SQL lives in `sql/queries/*.sql` as named blocks (`-- name: debit_customer`) and is called by
name (`Q.debit_customer`). Driver errors are turned into domain errors here, nowhere else.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TypeAlias

import asyncpg
import orjson

from reseller import errors

Pool: TypeAlias = asyncpg.Pool
Connection: TypeAlias = asyncpg.Connection
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


async def create_pool(dsn: str, *, min_size: int, max_size: int) -> Pool:
    with translate_errors():
        return await asyncpg.create_pool(
            dsn, min_size=min_size, max_size=max_size, init=_init_connection, reset=_keep_session
        )


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
    "orders_provider_upstream_order_id_key": errors.DuplicateUpstreamOrder,
}

_UNAVAILABLE = (
    OSError,
    asyncpg.CannotConnectNowError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
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
    except (asyncpg.PostgresError, asyncpg.InternalClientError) as exc:
        raise errors.DatabaseError(f"Database error: {exc}") from exc


async def ping(pool: Pool) -> None:
    await pool.fetchval(Q.ping)


def is_unavailable(exc: BaseException) -> bool:
    """Whether an error means the database cannot be reached right now (not a bug)."""
    return isinstance(exc, (errors.DatabaseUnavailable, TimeoutError, *_UNAVAILABLE))
