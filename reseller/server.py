"""`reseller serve`: database up, migrations applied, then the HTTP listener until SIGTERM."""

from __future__ import annotations

import asyncio
import signal

import structlog
from aiohttp import web

from reseller import db, migrations
from reseller.api.app import create_app
from reseller.config import Config

log = structlog.get_logger()


async def serve(config: Config, dsn: str, *, host: str, port: int) -> None:
    async with db.connection(dsn) as conn:
        applied = await migrations.migrate(conn)
    if applied:
        log.info("migrations_applied", names=applied)
    pool = await db.create_pool(
        dsn, min_size=config.database.pool_min, max_size=config.database.pool_max
    )
    runner = web.AppRunner(create_app(config, pool=pool), access_log=None)
    try:
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        log.info("listening", url=f"http://{host}:{port}")
        await _until_stopped()
        log.info("stopping")
    finally:
        await runner.cleanup()  # stops accepting, lets in-flight requests finish
        await pool.close()


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
