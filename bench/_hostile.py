"""The hostile clients, each run as a child process on the load core for a fixed time:

- `flood`: clients sending random API keys back to back, from one client address or each
  request from a fresh one (through the trusted proxy header the bench config names);
- `hold`: idle connections that never send a byte, and slow ones trickling a request's header
  or body a byte every few seconds; it reports which of them the server closed, and when.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections import Counter
from dataclasses import dataclass

import aiohttp

from bench import _load
from reseller import api_keys

ADDRESS_HEADER = "X-Real-IP"  # api.client_address_header in the bench config
FLOOD_ADDRESS = "127.0.0.9"  # header values only: nothing is sent to these addresses
CUSTOMER_ADDRESS = "127.0.0.2"


async def flood(url: str, clients: int, seconds: float, *, fresh_address: bool) -> Counter[str]:
    """`clients` keep-alive connections sending `balance` with a new random key each time;
    returns the answers counted by kind."""
    answers: Counter[str] = Counter()
    end = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def client() -> None:
            while time.perf_counter() < end:
                address = _random_address() if fresh_address else FLOOD_ADDRESS
                body = f"key={api_keys.new_key()}&action=balance".encode()
                headers = {"Content-Type": _load.FORM, ADDRESS_HEADER: address}
                try:
                    async with session.post(url, data=body, headers=headers) as answer:
                        answers[_kind(answer.status, await answer.read())] += 1
                except (aiohttp.ClientError, TimeoutError):
                    answers["no answer"] += 1

        await asyncio.gather(*(client() for _ in range(clients)))
    return answers


def _random_address() -> str:
    return "127.{}.{}.{}".format(*random.randbytes(3))


def _kind(status: int, body: bytes) -> str:
    if body.startswith(b'{"error":'):
        return f"{status} {body[10:-2].decode(errors='replace')}"
    return f"{status} answered"


# --- idle and slow connections ---

_HEAD = b"POST /api/v2 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
_SLOW_HEADER = _HEAD + b"X-Slow: "  # then one byte per tick, the header never ends
_SLOW_BODY = _HEAD + (
    f"Content-Type: {_load.FORM}\r\nContent-Length: 1000\r\n\r\nkey=".encode()
)  # then one byte per tick, 1000 never reached
_CONNECTING = 50  # connections opened at a time: within the server's listen backlog


@dataclass(frozen=True, slots=True)
class Held:
    kind: str
    opened: bool
    closed_after: float | None  # seconds from open to the server's close; None: still open
    first_line: str  # the status line of anything the server sent before closing


async def hold(
    host: str, port: int, *, idle: int, slow: int, trickle: float, seconds: float
) -> dict[str, dict[str, object]]:
    """Open the connections, keep them `seconds` (slow ones sending a byte every `trickle` s),
    then close them; per kind: how many opened, how many the server closed, and when."""
    clock = asyncio.get_running_loop().time
    end = clock() + seconds
    gate = asyncio.Semaphore(_CONNECTING)
    kinds = {"idle": (idle, b""), "slow header": (slow - slow // 2, _SLOW_HEADER)}
    kinds["slow body"] = (slow // 2, _SLOW_BODY)

    async def one(kind: str, start: bytes) -> Held:
        async with gate:
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except OSError:
                return Held(kind, False, None, "")
        opened = clock()
        try:
            async with asyncio.timeout_at(end):
                first = await _until_closed(reader, writer, start, trickle)
                return Held(kind, True, clock() - opened, first)
        except TimeoutError:
            return Held(kind, True, None, "")
        finally:
            writer.close()

    held = await asyncio.gather(
        *(one(kind, start) for kind, (count, start) in kinds.items() for _ in range(count))
    )
    return {kind: _summary([h for h in held if h.kind == kind]) for kind in kinds}


async def _until_closed(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, start: bytes, trickle: float
) -> str:
    """Send `start`, then a byte every `trickle` s if it is not empty, until the server closes
    the connection; returns the first line it sent, if any."""
    received = asyncio.ensure_future(_read_all(reader))
    try:
        if start:
            writer.write(start)
            while not received.done():
                await writer.drain()
                await asyncio.wait([received], timeout=trickle)
                writer.write(b"a")
        return await received
    except OSError:  # written into a connection the server closed
        return await received
    finally:
        received.cancel()


async def _read_all(reader: asyncio.StreamReader) -> str:
    data = b""
    try:
        while chunk := await reader.read(4096):
            data += chunk
    except OSError:
        pass
    return data.split(b"\r\n", 1)[0].decode(errors="replace")


def _summary(held: list[Held]) -> dict[str, object]:
    closes = [h.closed_after for h in held if h.closed_after is not None]
    return {
        "opened": sum(h.opened for h in held),
        "closed": len(closes),
        "median_close_s": statistics.median(closes) if closes else None,
        "answers": Counter(h.first_line for h in held if h.first_line),
    }
