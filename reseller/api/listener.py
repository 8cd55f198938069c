"""The API's listener: aiohttp's server with its timeouts set, behind a cap on open connections.

aiohttp has no such cap: every accepted connection costs a file descriptor and memory until
its timeouts close it. Past the cap a new connection gets an immediate 503 and is closed, so an
overloaded process answers at once instead of leaving clients hanging.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass

import orjson
from aiohttp import web

from reseller import errors, metrics
from reseller.config import ServerConfig

_BODY = orjson.dumps({"error": errors.ServiceUnavailable().message})
_REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(_BODY), _BODY)
)


@dataclass
class Listening:
    runner: web.AppRunner
    server: asyncio.Server

    @property
    def port(self) -> int:
        return int(self.server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        """Stop accepting, then let the open requests finish (within the runner's grace)."""
        self.server.close()
        await self.runner.cleanup()


async def serve_app(
    app: web.Application,
    settings: ServerConfig,
    host: str,
    port: int,
    *,
    grace: float,
    reuse_port: bool = False,
) -> Listening:
    runner = web.AppRunner(
        app,
        access_log=None,
        shutdown_timeout=grace,
        # aiohttp's keep-alive timer runs from a connection's start, and from each answer,
        # until a complete request header arrives: it is the header deadline as well.
        keepalive_timeout=float(settings.idle_timeout_seconds),
        # The unread rest of a body (a trickling client's) is not drained for long.
        lingering_time=1.0,
    )
    await runner.setup()
    server = runner.server
    assert server is not None
    cap = settings.max_connections

    def connection() -> asyncio.BaseProtocol:
        return server() if len(server.connections) < cap else _Refuse()

    try:
        listening = await asyncio.get_running_loop().create_server(
            connection, host, port, reuse_port=reuse_port or None
        )
    except BaseException as exc:
        await runner.cleanup()
        if isinstance(exc, OSError):  # taken, not ours to bind, or no such address
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise errors.ResellerError(f"cannot listen on {host}:{port}: {reason}") from None
        raise
    return Listening(runner, listening)


class _Refuse(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        metrics.CONNECTIONS_REFUSED.inc()
        assert isinstance(transport, asyncio.Transport)
        transport.write(_REFUSAL)
        transport.close()
