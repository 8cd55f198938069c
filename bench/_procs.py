"""The bench's child processes: each pinned to one core, each killed if the bench dies.

Two cores: the server under test (or its stand-in: the bare handler, the SQL-only loop) runs on
SERVER_CPU, the load generator on LOAD_CPU; PostgreSQL is left to the scheduler.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

import aiohttp

SERVER_CPU = 0
LOAD_CPU = 1
ROOT = Path(__file__).resolve().parent.parent  # `python -m bench.api` must import from here

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def _preexec(cpu: int | None) -> Callable[[], None]:
    """`cpu` None: left to the scheduler (a bench across cores)."""
    # Pinning is skipped on a machine with fewer cores; the figures then say less, but still run.
    pin = {cpu} if cpu is not None and cpu in os.sched_getaffinity(0) else None

    def setup() -> None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if pin is not None:
            os.sched_setaffinity(0, pin)

    return setup


def run(argv: Sequence[str], *, cpu: int, timeout: float) -> str:
    """Run a command pinned to `cpu` and return its stdout; fail loudly with its stderr."""
    done = subprocess.run(
        argv,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=_preexec(cpu),
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{argv[0]} exited with {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def python_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "bench.api", *args]


class Server:
    """A server child process on `cpu` (None: any), ready once `ready_url` answers 200 (None:
    once started; the caller knows better when it is ready)."""

    def __init__(
        self,
        argv: Sequence[str],
        ready_url: str | None,
        log: Path,
        *,
        cpu: int | None = SERVER_CPU,
        cwd: Path = ROOT,
    ) -> None:
        self._log = log
        with log.open("wb") as out:
            # The app renders one JSON log line per request to stdout, as `reseller serve`
            # does: rendering it stays in the figures, storing it does not.
            self._proc = subprocess.Popen(
                argv,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=out,
                preexec_fn=_preexec(cpu),
            )
        if ready_url is None:
            return
        try:
            self._wait_ready(ready_url, deadline=time.monotonic() + 60)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, url: str, deadline: float) -> None:
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                tail = self._log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"server exited with {self._proc.returncode}: {tail}")
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server not ready at {url} within 60 s")

    @property
    def pid(self) -> int:
        return self._proc.pid

    def exit_code(self) -> int | None:
        """None while the process runs."""
        return self._proc.poll()

    def stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)  # the app closes its pool on SIGTERM
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_for_catalog(url: str, key: str) -> None:
    """Until the served API lists services (its catalog follows the table within seconds)."""
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            async with session.post(url, data={"key": key, "action": "services"}) as answer:
                if len(await answer.json()) > 0:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError("the catalog never filled")
