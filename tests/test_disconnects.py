"""A client that hangs up mid-body is a client disconnect, never a database outage.

The app runs as `reseller serve` runs it (`listener.serve_app`, no handler cancellation), over a
real socket: aiohttp's test server cancels the handler when the client goes, which `serve`
does not, so the `api` fixture would not show what production logs.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
import pytest_asyncio
from conftest import CATALOG_YAML
from structlog.testing import capture_logs

from reseller import config, db, errors, metrics
from reseller.api import listener
from reseller.api.app import create_app
from reseller.catalog import sync as catalog_sync

pytestmark = pytest.mark.usefixtures("info_logs")

FORM = b"POST /api/v2 HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
JSON = b"POST /api/v2 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
# Each announces more body than it sends.
CUT_SHORT = {
    "form": FORM + b"Content-Length: 100\r\n\r\nkey=abcdef",
    "json": JSON + b'Content-Length: 100\r\n\r\n{"key": "abc',
    "chunked": FORM + b"Transfer-Encoding: chunked\r\n\r\na\r\nkey=abcdef\r\n",
}


@pytest_asyncio.fixture(loop_scope="session")
async def port(pool: db.Database) -> AsyncIterator[int]:
    settings = config.parse(CATALOG_YAML)
    await catalog_sync.rebuild(pool, settings)
    served = await listener.serve_app(
        create_app(settings, pool=pool), settings.server, "127.0.0.1", 0, grace=1
    )
    yield served.port
    await served.close()


def counted(outcome: str) -> float:
    labels = {"action": "none", "outcome": outcome}
    return metrics.REGISTRY.get_sample_value("reseller_api_requests_total", labels) or 0.0


async def hang_up(host: str, port: int, request: bytes, *, reset: bool = False) -> list[dict]:
    """Send `request`, wait until the handler is reading the body, close; the logs it caused."""
    with capture_logs() as logs:
        _, writer = await asyncio.open_connection(host, port)
        writer.write(request)
        await writer.drain()
        await asyncio.sleep(0.05)
        if reset:  # an RST instead of a FIN, as a killed client or a middlebox sends
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.close()
        for _ in range(200):
            if any(event["event"] == "request" for event in logs):
                break
            await asyncio.sleep(0.01)
    return logs


def outcomes() -> dict[str, float]:
    return {outcome: counted(outcome) for outcome in ("ok", "error", "disconnected")}


def assert_counted_as_disconnect(logs: list[dict], before: dict[str, float]) -> None:
    events = [event["event"] for event in logs]
    assert "database_unavailable" not in events
    assert "unexpected_error" not in events
    [hang_up_event] = [event for event in logs if event["event"] == "client_disconnected"]
    assert hang_up_event["log_level"] == "info"
    [request] = [event for event in logs if event["event"] == "request"]
    assert request["outcome"] == "disconnected"
    after = outcomes()
    assert after["disconnected"] == before["disconnected"] + 1
    assert after["error"] == before["error"]


@pytest.mark.parametrize("shape", CUT_SHORT)
@pytest.mark.parametrize("reset", [False, True], ids=["fin", "rst"])
async def test_a_client_hanging_up_mid_body_is_a_disconnect_not_a_database_outage(
    port: int, shape: str, reset: bool
) -> None:
    before = outcomes()
    logs = await hang_up("127.0.0.1", port, CUT_SHORT[shape], reset=reset)
    assert_counted_as_disconnect(logs, before)


async def test_a_handler_cancelled_by_a_hang_up_is_counted_as_a_disconnect(api) -> None:
    """aiohttp's test server cancels the handler of a client that went (handler_cancellation):
    the request is still logged and counted, as a disconnect."""
    url = urlsplit(api.url)
    before = outcomes()
    logs = await hang_up(url.hostname, url.port, CUT_SHORT["form"])
    assert_counted_as_disconnect(logs, before)


async def test_the_server_still_answers_after_clients_hang_up(port: int) -> None:
    await hang_up("127.0.0.1", port, CUT_SHORT["form"])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(FORM + b"Content-Length: 10\r\nConnection: close\r\n\r\nkey=abcdef")
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 200")
    assert answer.endswith(b'{"error":"Invalid API key"}')


@pytest.mark.parametrize(
    "error",
    [ConnectionResetError("Connection lost"), BrokenPipeError(), TimeoutError(), OSError()],
    ids=repr,
)
def test_an_os_error_from_outside_the_data_layer_is_no_database_outage(
    error: BaseException,
) -> None:
    assert not db.is_unavailable(error)


async def test_a_lost_or_refused_database_connection_is_still_unavailable() -> None:
    with pytest.raises(errors.DatabaseUnavailable) as caught:
        await db.connect("postgresql://nobody@127.0.0.1:1/nothing")  # port 1: nothing listens
    assert db.is_unavailable(caught.value)
    assert isinstance(caught.value.__cause__, OSError)  # translated at the data boundary
