"""Bounded closed-loop load: wrk when installed, else an aiohttp client; and the same loop for
SQL-only limits. Every run lasts a fixed time at a fixed concurrency, then stops by itself."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import parse_qsl

import aiohttp

from bench import _procs

FORM = "application/x-www-form-urlencoded"

Item = TypeVar("Item")  # what one call is made with


@dataclass(frozen=True, slots=True)
class Settings:
    connections: int
    warmup: int  # seconds, discarded
    duration: int  # seconds, measured


@dataclass(frozen=True, slots=True)
class Measured:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    failed: int  # socket errors, non-2xx answers, and API error answers where checked

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Measured:
        return cls(**json.loads(text))


def generator() -> str:
    """Which load generator this machine uses, as the report names it."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return "aiohttp client (wrk not installed)"
    banner = subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False)
    return " ".join(banner.stdout.split()[:2]) or "wrk"


def ask(url: str, body: str) -> bytes:
    """One request by hand; an error answer fails the bench."""
    request = urllib.request.Request(url, data=body.encode(), headers={"Content-Type": FORM})
    with urllib.request.urlopen(request, timeout=10) as response:
        answer: bytes = response.read()
    if answer.startswith(b'{"error":'):
        raise RuntimeError(f"{body[:80]}… answered {answer[:200]!r}")
    return answer


def key_of(body: str) -> str:
    """The API key a form body sends."""
    return dict(parse_qsl(body))["key"]


def http(url: str, bodies: Path, settings: Settings, *, check_bodies: bool) -> Measured:
    """POST the bodies (one form body per line, in rotation) to `url` from LOAD_CPU."""
    timeout = settings.warmup + settings.duration + 60
    if shutil.which("wrk") is None:
        argv = _procs.python_argv(
            "load", url, str(bodies), *options(settings), *(["--check"] * check_bodies)
        )
        return Measured.from_json(_procs.run(argv, cpu=_procs.LOAD_CPU, timeout=timeout))
    script = bodies.with_suffix(".lua")
    script.write_text(_wrk_script(bodies, check_bodies=check_bodies))
    if settings.warmup:
        _wrk(url, script, settings.connections, settings.warmup, timeout)
    return _wrk(url, script, settings.connections, settings.duration, timeout)


def burst(url: str, bodies: Path, connections: int, seconds: int) -> Measured:
    """One run of `seconds`, no warm-up: every request it sends counts (each `add` is an order
    the run then follows), API error answers as failed."""
    if shutil.which("wrk") is None:
        return http(url, bodies, Settings(connections, 0, seconds), check_bodies=True)
    script = bodies.with_suffix(".lua")
    script.write_text(_wrk_script(bodies, check_bodies=True))
    return _wrk(url, script, connections, seconds, seconds + 60)


def options(settings: Settings) -> list[str]:
    """The command-line options that give a child process these settings."""
    return [
        f"--connections={settings.connections}",
        f"--warmup={settings.warmup}",
        f"--duration={settings.duration}",
    ]


def _wrk(url: str, script: Path, connections: int, seconds: int, timeout: float) -> Measured:
    # One thread: wrk has one core to itself, more threads would only contend for it.
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout=10s", "-s", str(script)]
    out = _procs.run([*argv, url], cpu=_procs.LOAD_CPU, timeout=timeout)
    return Measured.from_json(out.rsplit(_RESULT_MARK, 1)[1].strip())


_RESULT_MARK = "BENCH-RESULT "

# Requests are formatted once per thread, then only handed out in rotation, so that wrk spends
# its core on the network and not in Lua. `response` makes wrk copy every body into Lua, so it
# is only defined where answers are small and may be API errors despite HTTP 200.
_WRK_PREPARE = """
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "%(form)s"
  prepared = {}
  for line in io.lines(%(bodies)s) do
    prepared[#prepared + 1] = wrk.format(nil, nil, nil, line)
  end
  index = 0
  failed = 0
end

function request()
  index = index %% #prepared + 1
  return prepared[index]
end
"""

_WRK_CHECK = """
function response(status, headers, body)
  if status ~= 200 or body:sub(1, 9) == '{"error":' then
    failed = failed + 1
  end
end
"""

_WRK_REPORT = """
function done(summary, latency, requests)
  local failed = 0
  for _, thread in ipairs(threads) do
    failed = failed + thread:get("failed")
  end
  local e = summary.errors
  failed = failed + e.connect + e.read + e.write + e.timeout
  if not has_check then
    failed = failed + e.status
  end
  io.write(string.format(
    '\\n%(mark)s{"requests": %%d, "seconds": %%f, "p50_ms": %%f, "p99_ms": %%f, "failed": %%d}\\n',
    summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1e3, latency:percentile(99) / 1e3, failed))
end
"""


def _wrk_script(bodies: Path, *, check_bodies: bool) -> str:
    values = {"form": FORM, "bodies": json.dumps(str(bodies)), "mark": _RESULT_MARK}
    # With `response` defined, a non-2xx answer is counted there already.
    flag = f"has_check = {'true' if check_bodies else 'false'}\n"
    check = _WRK_CHECK if check_bodies else ""
    return flag + (_WRK_PREPARE + check + _WRK_REPORT) % values


async def closed_loop(
    call: Callable[[Item], Awaitable[bool]],
    items: Sequence[Item],
    settings: Settings,
) -> Measured:
    """`connections` workers call `call(item)` back to back over `items` in rotation; the calls
    started during the measured window count, a False answer as failed."""
    begin = time.perf_counter() + settings.warmup
    end = begin + settings.duration
    latencies: list[float] = []
    failed = 0

    async def worker(first: int) -> None:
        nonlocal failed
        index = first
        while (started := time.perf_counter()) < end:
            ok = await call(items[index % len(items)])
            index += settings.connections
            if started >= begin:
                latencies.append(time.perf_counter() - started)
                failed += not ok

    await asyncio.gather(*(worker(n) for n in range(settings.connections)))
    return summarise(latencies, float(settings.duration), failed)


def summarise(latencies: list[float], seconds: float, failed: int) -> Measured:
    """Request count and percentiles of latencies in seconds, over a window of `seconds`."""
    ordered = sorted(latencies)
    return Measured(
        requests=len(ordered),
        seconds=seconds,
        p50_ms=_percentile(ordered, 50) * 1e3,
        p99_ms=_percentile(ordered, 99) * 1e3,
        failed=failed,
    )


def _percentile(ordered: list[float], pct: int) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, len(ordered) * pct // 100)]


async def aiohttp_load(url: str, bodies: list[str], settings: Settings, *, check: bool) -> Measured:
    """The fallback load generator, run as its own process on LOAD_CPU."""
    items = [line.encode() for line in bodies]
    connector = aiohttp.TCPConnector(limit=settings.connections)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def post(body: object) -> bool:
            async with session.post(url, data=body, headers={"Content-Type": FORM}) as answer:
                text = await answer.read()
            return answer.status == 200 and not (check and text.startswith(b'{"error":'))

        return await closed_loop(post, items, settings)


async def adds(url: str, forms: Iterable[dict[str, str]], *, clients: int = 16) -> None:
    """Every `add` in `forms` sent from `clients` clients at once; a refused one stops the run
    (a bench must not measure error answers)."""
    queue = iter(forms)
    async with aiohttp.ClientSession() as session:

        async def client() -> None:
            for form in queue:
                async with session.post(url, data=form) as response:
                    answer = await response.json()
                if "order" not in answer:
                    raise RuntimeError(f"add refused: {answer}")

        await asyncio.gather(*(client() for _ in range(clients)))
