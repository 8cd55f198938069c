"""The long-running processes: `reseller serve` (API, dispatch and jobs; with `--api-only` the
API alone) and `reseller worker` (dispatch and jobs only, for operators who split them). Both:
database up, migrations applied, run until SIGTERM, then stop taking work, finish what is in
flight (bounded), exit 0. SIGHUP re-reads the config file: a bad file is refused and the
running config stays."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web

from reseller import config, config_check, db, dbserver, errors, logs, migrations, systemd
from reseller.api import health, listener
from reseller.api import metrics as api_metrics
from reseller.api.app import create_app
from reseller.catalog import LiveCatalog
from reseller.catalog import sync as catalog_sync
from reseller.console.app import create_console
from reseller.jobs import outage
from reseller.jobs.dispatch import Dispatcher
from reseller.jobs.scheduler import Jobs
from reseller.upstream import Upstreams

log = logs.get_logger()
POOL_CLOSE_SECONDS = 5.0


@dataclass
class Runtime:
    pool: db.Database
    live: config.LiveConfig
    upstreams: Upstreams
    dispatcher: Dispatcher | None  # None: another process sends this one's new orders
    jobs: Jobs | None
    catalog: LiveCatalog
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    # What this process cannot recover from by itself: it stops, and exits non-zero.
    fatal: Exception | None = None

    def fail(self, error: Exception) -> None:
        self.fatal = error
        self.stopping.set()

    def failing(self) -> str | None:
        """For /healthz: why this process is no longer alive, if it is not."""
        return str(self.fatal) if self.fatal is not None else None


@asynccontextmanager
async def running(
    initial: config.Config,
    dsn: str,
    *,
    jobs: bool,
    dispatch: bool = True,
    supervisor: dbserver.Supervisor | None = None,
) -> AsyncIterator[Runtime]:
    """`supervisor`: the embedded server this process started, kept alive while it runs; when
    it cannot be, the process stops and the error is raised here."""
    async with db.connection(dsn) as conn:
        applied = await migrations.migrate(conn)
    if applied:
        log.info("migrations_applied", names=applied)
    settings = initial.database
    pool = await db.create_pool(
        dsn,
        min_size=settings.pool_min,
        max_size=settings.pool_max,
        statement_timeout=float(settings.statement_timeout_seconds),
    )
    live = config.LiveConfig(initial)
    upstreams = Upstreams(initial.providers)
    runtime = Runtime(
        pool,
        live,
        upstreams,
        Dispatcher(pool, live, upstreams) if dispatch else None,
        Jobs(pool, live, upstreams) if jobs else None,
        LiveCatalog(),
    )
    watcher = asyncio.create_task(supervisor.watch()) if supervisor else None
    if watcher is not None:
        watcher.add_done_callback(lambda done: _watch_ended(runtime, done))
    probe = asyncio.create_task(outage.watch(pool))
    try:
        # The catalog as this config and the stored offers describe it, before anything serves
        # or dispatches: once per process start, never per app.
        await catalog_sync.rebuild(pool, initial)
        yield runtime
    finally:
        probe.cancel()
        if watcher is not None:
            watcher.cancel()
        grace = float(live.current.dispatch.stop_grace_seconds)
        # In-flight upstream calls finish, or are abandoned as uncertain after the grace.
        if runtime.dispatcher is not None:
            await runtime.dispatcher.stop(grace)
        if runtime.jobs is not None:
            await runtime.jobs.stop(grace)
        await upstreams.close()
        try:  # a connection someone still holds must not keep the process from exiting
            await asyncio.wait_for(pool.close(), POOL_CLOSE_SECONDS)
        except TimeoutError:
            log.warning("pool_close_timeout")
            pool.terminate()
        log.info("stopped")
    if runtime.fatal is not None:
        raise runtime.fatal


def _watch_ended(rt: Runtime, watcher: asyncio.Task[None]) -> None:
    if not watcher.cancelled() and (error := watcher.exception()) is not None:
        rt.fail(error if isinstance(error, Exception) else RuntimeError(str(error)))


async def serve(
    initial: config.Config,
    dsn: str,
    *,
    host: str,
    port: int,
    jobs: bool,
    dispatch: bool = True,
    reuse_port: bool = False,
    on_ready: Callable[[Runtime], Awaitable[None]] | None = None,
    supervisor: dbserver.Supervisor | None = None,
) -> None:
    """`dispatch`: False leaves new orders in the queue for a `reseller worker` to send."""
    async with running(initial, dsn, jobs=jobs, dispatch=dispatch, supervisor=supervisor) as rt:
        settings = initial.server
        on_api = settings.metrics_on_api
        app = create_app(
            rt.live,
            pool=rt.pool,
            dispatcher=rt.dispatcher,
            catalog=rt.catalog,
            serve_metrics=on_api,
        )
        app[health.LIVENESS] = rt.failing
        # In-flight requests get the same grace as in-flight upstream calls.
        grace = float(initial.dispatch.stop_grace_seconds) + 1
        api = await listener.serve_app(
            app, settings, host, port, grace=grace, reuse_port=reuse_port
        )
        metrics_runner = web.AppRunner(api_metrics.metrics_app(rt.pool), access_log=None)
        await metrics_runner.setup()
        console_runner = await _console(rt, reuse_port=reuse_port)
        try:
            if not on_api:
                await _listen_for_metrics(metrics_runner, settings, reuse_port=reuse_port)
            _start_work(rt)
            log.info("listening", url=f"http://{host}:{port}")
            if on_ready is not None:
                await on_ready(rt)
            await _until_stopped(rt)
        finally:
            await api.close()  # stops accepting, lets in-flight requests finish
            await metrics_runner.cleanup()
            if console_runner is not None:
                await console_runner.cleanup()


async def _console(rt: Runtime, *, reuse_port: bool) -> web.AppRunner | None:
    """The operator console on its own listener (`admin:`), when enabled."""
    settings = rt.live.current.admin
    if not settings.enabled:
        return None
    secret = settings.secret()
    if secret is None:
        raise errors.ResellerError(settings.missing_secrets()[0])
    runner = web.AppRunner(
        create_console(rt.live, pool=rt.pool, upstreams=rt.upstreams, secret=secret),
        access_log=None,
    )
    await runner.setup()
    try:
        await web.TCPSite(
            runner, settings.host, settings.port, reuse_port=reuse_port or None
        ).start()
    except OSError as exc:
        await runner.cleanup()
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise errors.ResellerError(
            f"admin.port: cannot listen on {settings.host}:{settings.port}: {reason}"
        ) from None
    log.info("console_listening", url=f"http://{settings.host}:{settings.port}/")
    return runner


async def _listen_for_metrics(
    runner: web.AppRunner, settings: config.ServerConfig, *, reuse_port: bool
) -> None:
    """/metrics on its own address. A port the file names must be free; the default port may be
    another program's (or another instance's, or the demo's): the API runs on, with a warning."""
    host, port = settings.metrics_host, settings.metrics_port
    try:
        # With --workers every child binds it too (SO_REUSEPORT), like the API's port.
        await web.TCPSite(runner, host, port, reuse_port=reuse_port or None).start()
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        if port != config.DEFAULT_METRICS_PORT:
            raise errors.ResellerError(
                f"server.metrics_port: cannot listen on {host}:{port}: {reason}"
            ) from None
        log.warning("metrics_not_served", address=f"{host}:{port}", error=reason)
        return
    log.info("metrics_listening", url=f"http://{host}:{port}/metrics")


async def work(
    initial: config.Config, dsn: str, *, supervisor: dbserver.Supervisor | None = None
) -> None:
    async with running(initial, dsn, jobs=True, supervisor=supervisor) as rt:
        _start_work(rt)
        log.info("worker_started")
        await _until_stopped(rt)


def _start_work(rt: Runtime) -> None:
    if rt.dispatcher is not None:
        rt.dispatcher.start()
    if rt.jobs is not None:
        rt.jobs.start()


async def _until_stopped(rt: Runtime) -> None:
    systemd.notify("READY=1")
    async with systemd.watchdog():
        await _wait_for_signals(rt)
    systemd.notify("STOPPING=1")


async def _wait_for_signals(rt: Runtime) -> None:
    stop = rt.stopping
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    reloads: set[asyncio.Task[bool]] = set()  # held so a running reload is not collected

    def on_sighup() -> None:
        task = asyncio.ensure_future(reload(rt))
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, on_sighup)
    await stop.wait()
    log.info("stopping")


async def reload(rt: Runtime) -> bool:
    """Apply the config file again (catalog, pricing, providers, dispatch settings); whether it
    was applied. Server, database and job-interval settings take effect at the next start."""
    source = rt.live.current.source
    if source is None:
        log.warning("config_reload_skipped", reason="running on defaults, no config file")
        return False
    try:
        fresh = config.load(source)
        if found := await config_check.problems(fresh, rt.pool):  # exactly `config check`'s
            raise errors.ConfigError(f"{source}: " + "; ".join(found))
        rebuilt = await catalog_sync.rebuild(rt.pool, fresh)
    except errors.ConfigError as exc:
        log.error("config_reload_refused", error=exc.message)
        return False
    systemd.notify("RELOADING=1")
    rt.live.current = fresh
    rt.upstreams.update(fresh.providers)
    await rt.catalog.refresh(rt.pool)
    systemd.notify("READY=1")
    log.info("config_reloaded", path=str(source))
    catalog_sync.log_changes(rebuilt.changes, cause="reload")
    return True
