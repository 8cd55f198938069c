"""Helpers for tests that run real processes."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_reseller(*argv: str, env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "reseller", *argv],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for_http(
    url: str, proc: subprocess.Popen[str], timeout: float = 30.0
) -> tuple[int, bytes]:
    """Poll `url` until it answers; fail early, with the process output, if the process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"process exited {proc.returncode}: {proc.stdout.read()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except OSError:
            time.sleep(0.05)
    stop(proc)
    raise AssertionError(f"{url} did not answer within {timeout}s")


def stop(proc: subprocess.Popen[str], sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
    if proc.poll() is None:
        os.kill(proc.pid, sig)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


async def spawn_reseller(*argv: str, env: dict[str, str], cwd: Path):  # -> asyncio Process
    import asyncio

    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "reseller",
        *argv,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def poll_until(check, *, within: float = 15.0, interval: float = 0.1):
    """Await `check()` until it returns something truthy; fail after `within` seconds."""
    import asyncio

    deadline = time.monotonic() + within
    while True:
        try:
            result = await check()
        except OSError:
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(interval)


async def ledger_holds(pool) -> None:
    """The money invariants of DESIGN.md §3: every balance equals the sum of its ledger and is
    not negative, and no order has more refunded than it was charged."""
    broken = await pool.fetch(
        "SELECT c.id, c.balance, coalesce(sum(l.amount), 0) AS ledger FROM customers c"
        " LEFT JOIN ledger l ON l.customer_id = c.id GROUP BY c.id"
        " HAVING c.balance <> coalesce(sum(l.amount), 0) OR c.balance < 0"
    )
    assert broken == [], f"balance differs from its ledger: {broken}"
    assert await pool.fetchval("SELECT count(*) FROM orders WHERE refunded > charge") == 0


@contextlib.asynccontextmanager
async def refunds_fail(pool):
    """Every refund written while inside fails, as a crash or a dropped connection would cut the
    transaction there: a PostgreSQL trigger raises on the refund's ledger entry."""
    await pool.execute(
        "CREATE OR REPLACE FUNCTION test_refunds_fail() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN RAISE EXCEPTION 'injected fault: refund interrupted'; END; $$"
    )
    await pool.execute(
        "CREATE TRIGGER test_refunds_fail BEFORE INSERT ON ledger FOR EACH ROW"
        " WHEN (NEW.kind = 'refund') EXECUTE FUNCTION test_refunds_fail()"
    )
    try:
        yield
    finally:
        await pool.execute("DROP TRIGGER test_refunds_fail ON ledger")
