"""Which PostgreSQL to use (the DSN from the environment, or else an embedded server), and
keeping an embedded server alive for as long as the process that started it runs."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from reseller import logs
from reseller.config import DatabaseConfig
from reseller.embedded_pg import EmbeddedPostgres, EmbeddedPostgresError

log = logs.get_logger()

CHECK_SECONDS = 0.25  # how often the postmaster is looked at: a death is seen this fast
FIRST_RETRY_SECONDS = 0.1  # a restart can fail while the dead server's backends still exit
MAX_RETRY_SECONDS = 5.0
ATTEMPT_SECONDS = 30.0  # one start may replay a long WAL before it accepts connections
# `serve` or `worker` finding a server a short command started (`customers list` …) waits this
# long for it to end rather than lean on a server it could not restart.
OWN_WAIT_SECONDS = 60.0


@dataclass
class Database:
    dsn: str
    supervisor: Supervisor | None  # set when this process runs the embedded server


@contextmanager
def database(config: DatabaseConfig, *, supervised: bool = False) -> Iterator[Database]:
    """The database to use; with no DSN configured, an embedded server runs for the duration.
    `supervised` (`serve`, `worker`): the server is this process's own, with a supervisor to
    keep it alive; otherwise a server another process runs on the folder is shared.

    Call from the main thread: the embedded server is tied to the thread that starts it, so that
    it dies with this process however the process ends.
    """
    if dsn := config.dsn():
        yield Database(dsn, None)
        return
    server = EmbeddedPostgres(config.embedded_dir() / "postgres")
    server.start(own=OWN_WAIT_SECONDS if supervised else None)
    try:
        supervisor = None
        if supervised:
            supervisor = Supervisor(server, give_up_after=float(config.embedded_restart_seconds))
        yield Database(server.dsn, supervisor)
    finally:
        server.stop()


@contextmanager
def database_dsn(config: DatabaseConfig) -> Iterator[str]:
    """A DSN, for commands that only need the database while they run."""
    with database(config) as found:
        yield found.dsn


class Supervisor:
    """Restarts the embedded server after it dies, with backoff, for up to `give_up_after`
    seconds; then raises, for the process to exit non-zero and its own supervisor (systemd) to
    restart everything. One log line per change: died, restarted, gave up.

    Everything here runs on the main thread (the event loop's, or the `--workers` parent's):
    the server it starts dies with the thread that started it.
    """

    def __init__(self, server: EmbeddedPostgres, *, give_up_after: float) -> None:
        self._server = server
        self._give_up_after = give_up_after

    def owns(self, pid: int) -> bool:
        return pid == self._server.pid

    async def watch(self) -> None:
        """Until cancelled: restart the server whenever it dies. Raises EmbeddedPostgresError
        once a restart has failed for longer than the bound."""
        while True:
            await asyncio.sleep(CHECK_SECONDS)
            if self._server.exit_code() is not None:
                await self.restart()

    def restart_reaped(self, status: int) -> None:
        """The `--workers` parent reaped the postmaster with its own `os.wait()`: restart it
        before waiting again (blocking; the parent has nothing else to do meanwhile)."""
        self._server.reaped(status)
        asyncio.run(self.restart())

    async def restart(self) -> None:
        where = str(self._server.data_dir)
        log.error("embedded_postgres_died", data_dir=where, exit_code=self._server.exit_code())
        started = time.monotonic()
        give_up_at = started + self._give_up_after
        delay, attempts = FIRST_RETRY_SECONDS, 0
        while True:
            attempts += 1
            error = await self._start_once(max(give_up_at, time.monotonic() + ATTEMPT_SECONDS))
            if error is None:
                seconds = round(time.monotonic() - started, 2)
                log.warning("embedded_postgres_restarted", attempts=attempts, seconds=seconds)
                return
            if time.monotonic() + delay > give_up_at:
                log.error("embedded_postgres_gave_up", attempts=attempts, error=error)
                raise EmbeddedPostgresError(
                    f"PostgreSQL in {where} died and could not be restarted within "
                    f"{self._give_up_after:g} s ({attempts} attempts): {error}"
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_RETRY_SECONDS)

    async def _start_once(self, deadline: float) -> str | None:
        """One start; None once it accepts connections, else why not."""
        try:
            self._server.relaunch()
        except EmbeddedPostgresError as exc:
            return exc.message
        while (ready := self._server.launched()) is None:
            if time.monotonic() > deadline:
                pid = self._server.pid
                assert pid is not None
                os.kill(pid, signal.SIGKILL)  # hung: the next attempt starts clean
                await asyncio.sleep(0.05)
                self._server.exit_code()  # reap it
                return "did not accept connections in time"
            await asyncio.sleep(0.02)
        return None if ready else self._server.failure()
