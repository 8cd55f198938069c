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
from decimal import ROUND_DOWN, Decimal
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


async def spawn_reseller(*argv: str, env: dict[str, str], cwd: Path) -> Spawned:
    import asyncio

    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "reseller",
        *argv,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    return Spawned(proc)


class Spawned:
    """A `reseller` process whose output is read as it comes, kept for `communicate()`: left
    in a full pipe (64 KB of log lines), the process would block on its next log line, its
    whole event loop with it."""

    def __init__(self, proc) -> None:  # an asyncio Process
        import asyncio

        self._proc = proc
        self._chunks: list[bytes] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while chunk := await self._proc.stdout.read(65536):
            self._chunks.append(chunk)

    def output(self) -> str:
        """The lines it has written so far (a line still being written is left out)."""
        written = b"".join(self._chunks)
        return written[: written.rfind(b"\n") + 1].decode()

    def __getattr__(self, name: str):  # pid, returncode, send_signal, kill, wait
        return getattr(self._proc, name)

    async def communicate(self) -> tuple[bytes, None]:
        """Its whole output once it has ended, as `asyncio.subprocess.Process.communicate`."""
        await self._proc.wait()
        await self._reader
        return b"".join(self._chunks), None


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


async def money_holds(pool) -> None:
    """The money invariants (ARCHITECTURE.md), per customer and per order. Balance = Σ ledger is
    not enough (it stays true while a customer is owed money): every order must have been
    refunded exactly what its state owes, in the customer's currency."""
    broken = await pool.fetch(
        "SELECT c.id, c.balance, coalesce(sum(l.amount), 0) AS ledger FROM customers c"
        " LEFT JOIN ledger l ON l.customer_id = c.id GROUP BY c.id"
        " HAVING c.balance <> coalesce(sum(l.amount), 0) OR c.balance < 0"
    )
    assert broken == [], f"balance differs from its ledger: {broken}"
    orders = await pool.fetch(
        "SELECT o.*, c.currency AS customer_currency, o.quantity * coalesce(o.runs, 1) AS total,"
        " (SELECT count(*) FROM ledger l WHERE l.order_id = o.id AND l.kind = 'charge')"
        "   AS charges,"
        " (SELECT coalesce(-sum(amount), 0) FROM ledger l WHERE l.order_id = o.id"
        "   AND l.kind = 'charge') AS charged,"
        " (SELECT coalesce(sum(amount), 0) FROM ledger l WHERE l.order_id = o.id"
        "   AND l.kind = 'refund') AS refund_entries,"
        " (SELECT sum(remains) FROM order_runs r WHERE r.order_id = o.id AND r.final)"
        "   AS final_runs_remains"
        " FROM orders o JOIN customers c ON c.id = o.customer_id"
    )
    for o in orders:
        assert owed_problem(o) is None, f"order {o['id']}: {owed_problem(o)}: {dict(o)}"
    shared = await pool.fetch(
        "SELECT provider, upstream_order_id, array_agg(id) AS ids FROM orders"
        " WHERE upstream_order_id IS NOT NULL GROUP BY 1, 2 HAVING count(*) > 1"
    )
    assert shared == [], f"an upstream order linked to several local orders: {shared}"


def owed_problem(o) -> str | None:
    """What is wrong with one order's money, or None."""
    if o["charges"] != 1 or o["charged"] != o["charge"]:
        return "not charged exactly once"
    if o["refund_entries"] != o["refunded"]:
        return "refunded differs from its ledger entries"
    if not 0 <= o["refunded"] <= o["charge"]:
        return "refunded outside 0..charge"
    if o["currency"] != o["customer_currency"]:
        return "order not in its customer's currency"
    if o["status"] == "Canceled" and o["refunded"] != o["charge"]:
        return "Canceled without its full refund"
    if o["dispatch_state"] == "refused" and (o["status"], o["settled_at"] is None) != (
        "Canceled",
        False,
    ):
        return "refused but not settled as Canceled"
    if o["dispatch_state"] in ("queued", "sending", "uncertain") and o["refunded"] != 0:
        return "refunded before its outcome was known"
    if o["settled_at"] is None and o["drip_emulated"]:  # owes what its final runs left undone
        remains, total = o["final_runs_remains"] or 0, o["total"]
        owed = (o["charge"] * remains / total).quantize(Decimal("0.00001"), rounding=ROUND_DOWN)
        return None if o["refunded"] == owed else f"runs refunded {o['refunded']}, owed {owed}"
    if o["settled_at"] is None:
        return None if o["refunded"] == 0 else "refunded but not settled"
    if o["status"] == "Completed":
        return None if o["refunded"] == 0 else "Completed with a refund"
    if o["status"] == "Partial":
        remains, total = o["remains"], o["total"]
        if remains is None or not 0 < remains <= total:
            return "settled Partial without a usable remains"
        owed = (o["charge"] * remains / total).quantize(Decimal("0.00001"), rounding=ROUND_DOWN)
        return None if o["refunded"] == owed else f"Partial refunded {o['refunded']}, owed {owed}"
    return None if o["status"] == "Canceled" else "settled on a status that is not final"


async def add_on_the_panel(stack, link: str, quantity: int) -> int:
    """An order placed on the simulated provider directly (its own site, another reseller's
    account), not through us."""
    import aiohttp

    form = {"key": "sim-key", "action": "add", "service": "1", "link": link, "quantity": quantity}
    async with aiohttp.ClientSession() as session, session.post(stack.sim.url, data=form) as r:
        return int((await r.json())["order"])


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
