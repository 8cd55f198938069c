"""`reseller serve`: database up, migrations applied, then the HTTP listener until SIGTERM.
SIGHUP re-reads the config file: a bad file is refused and the running config stays."""

from __future__ import annotations

import asyncio
import signal

import structlog
from aiohttp import web

from reseller import catalog_sync, config, db, errors, migrations
from reseller.api.app import create_app
from reseller.api.appkeys import CATALOG
from reseller.dispatch import Dispatcher
from reseller.upstream import Upstreams

log = structlog.get_logger()


async def serve(initial: config.Config, dsn: str, *, host: str, port: int) -> None:
    async with db.connection(dsn) as conn:
        applied = await migrations.migrate(conn)
    if applied:
        log.info("migrations_applied", names=applied)
    settings = initial.database
    pool = await db.create_pool(dsn, min_size=settings.pool_min, max_size=settings.pool_max)
    live = config.LiveConfig(initial)
    upstreams = Upstreams(initial.providers)
    dispatcher = Dispatcher(pool, live, upstreams)
    app = create_app(live, pool=pool, dispatcher=dispatcher)
    runner = web.AppRunner(app, access_log=None)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    reloads: set[asyncio.Task[bool]] = set()  # held so a running reload is not collected

    def on_sighup() -> None:
        task = asyncio.ensure_future(reload(live, app, pool, upstreams))
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, on_sighup)
    try:
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        dispatcher.start()
        log.info("listening", url=f"http://{host}:{port}")
        await stop.wait()
        log.info("stopping")
    finally:
        await runner.cleanup()  # stops accepting, lets in-flight requests finish
        # Then in-flight upstream calls: finished, or abandoned as uncertain after the grace.
        await dispatcher.stop(float(live.current.dispatch.stop_grace_seconds))
        await upstreams.close()
        await pool.close()


async def reload(
    live: config.LiveConfig, app: web.Application, pool: db.Pool, upstreams: Upstreams
) -> bool:
    """Apply the config file again (catalog, pricing, providers); whether it was applied.
    Server and database settings take effect at the next start."""
    source = live.current.source
    if source is None:
        log.warning("config_reload_skipped", reason="running on defaults, no config file")
        return False
    try:
        fresh = config.load(source)
        await catalog_sync.rebuild(pool, fresh)
    except errors.ConfigError as exc:
        log.error("config_reload_refused", error=exc.message)
        return False
    live.current = fresh
    upstreams.update(fresh.providers)
    await app[CATALOG].refresh(pool)
    log.info("config_reloaded", path=str(source), services=len(app[CATALOG].current))
    return True
