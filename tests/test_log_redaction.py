"""Whatever a client sends, every log line of `reseller serve` is JSON and none carries an API
key: requests so malformed that aiohttp itself logs them quote the raw request line."""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path

import orjson
import pytest
from support import free_port, start_reseller, stop, wait_for_http

pytestmark = pytest.mark.slow
SECRET = "k3y5ecretvalue0123456789"

MALFORMED = [
    # a request line longer than aiohttp's limit (8190 bytes)
    f"GET /api/v2?key={SECRET}&action=balance&pad={'x' * 9000} HTTP/1.1\r\nHost: a\r\n\r\n",
    # an unencoded space, and a non-ASCII byte, in the query string
    f"GET /api/v2?key={SECRET}&action=bal ance HTTP/1.1\r\nHost: a\r\n\r\n",
    f"GET /api/v2?key={SECRET}&action=é HTTP/1.1\r\nHost: a\r\n\r\n",
    # a broken request line and broken headers
    f"GET /api/v2?key={SECRET}\r\nHost: a\r\n\r\n",
    f"POST /api/v2?key={SECRET} HTTP/1.1\r\nContent-Length: nope\r\n\r\n",
]


def send_raw(port: int, data: str) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data.encode("utf-8"))
        with contextlib.suppress(OSError):  # the server may just close
            sock.recv(65536)


def test_malformed_requests_leave_only_json_lines_without_keys(dsn: str, tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "RESELLER_DSN": dsn}
    env.pop("RESELLER_CONFIG", None)
    proc = start_reseller("--no-config", "serve", "--port", str(port), env=env, cwd=tmp_path)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", proc)
        for data in MALFORMED:
            send_raw(port, data)
    finally:
        assert stop(proc) == 0
    output = proc.stdout.read() if proc.stdout else ""
    lines = [line for line in output.splitlines() if line.strip()]
    assert lines
    assert SECRET not in output
    for line in lines:
        assert isinstance(orjson.loads(line), dict), line
