"""Which PostgreSQL to use: the DSN from the environment, or else an embedded server."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from reseller.config import DatabaseConfig
from reseller.embedded_pg import EmbeddedPostgres


@contextmanager
def database_dsn(config: DatabaseConfig) -> Iterator[str]:
    """Yield a DSN; with none configured, run the embedded server for the duration.

    Call from the main thread: the embedded server is tied to the thread that starts it, so that
    it dies with this process however the process ends.
    """
    if dsn := config.dsn():
        yield dsn
        return
    with EmbeddedPostgres(config.embedded_dir() / "postgres") as server:
        yield server.dsn
