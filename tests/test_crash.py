"""Real processes killed with SIGKILL: an order committed but not yet sent is sent exactly
once after the restart; an order in flight at the kill is never sent again."""

from __future__ import annotations

import asyncio
import os
import signal

import aiohttp
import pytest
from support import free_port, poll_until, spawn_reseller

from reseller import config, customers
from reseller.catalog import sync as catalog_sync
from reseller.upstream import Upstreams

pytestmark = pytest.mark.slow

YAML = """
providers:
  - {{name: sim, url: "{url}", key_env: SIM_TEST_KEY, timeout: 10}}
dispatch: {{retry_seconds: 1, scan_seconds: 0.1}}
services:
  - {{id: 1, provider: sim, upstream_service: 1}}
"""


async def start_server(dsn, tmp_path, url: str):
    path = tmp_path / "config.yaml"
    path.write_text(YAML.format(url=url))
    port = free_port()
    env = {**os.environ, "RESELLER_DSN": dsn, "RESELLER_CONFIG": str(path)}
    proc = await spawn_reseller("serve", "--port", str(port), env=env, cwd=tmp_path)
    api = f"http://127.0.0.1:{port}/api/v2"

    async def up() -> bool:
        async with aiohttp.ClientSession() as session, session.get(api) as answer:
            return answer.status == 200

    await poll_until(up)
    return proc, api


async def prepare(pool, sim) -> str:
    cfg = config.parse(YAML.format(url=sim.url))
    upstreams = Upstreams(cfg.providers)
    await catalog_sync.sync(pool, cfg, upstreams)  # the provider's offers are known
    await upstreams.close()
    _, key = await customers.create(pool, "acme", balance=customers.Decimal(100))
    return key


async def add(api: str, key: str, link: str) -> int:
    async with aiohttp.ClientSession() as session:
        form = {"key": key, "action": "add", "service": "1", "link": link, "quantity": "100"}
        async with session.post(api, data=form) as answer:
            return (await answer.json())["order"]


async def kill(proc) -> None:
    proc.send_signal(signal.SIGKILL)
    await proc.wait()


async def state_of(pool, order_id: int) -> str:
    return await pool.fetchval("SELECT dispatch_state FROM orders WHERE id = $1", order_id)


async def test_order_committed_before_a_crash_is_sent_exactly_once_after_restart(
    dsn, pool, sim, tmp_path
) -> None:
    key = await prepare(pool, sim)
    closed = f"http://127.0.0.1:{free_port()}/api/v2"  # the provider is unreachable at first
    proc, api = await start_server(dsn, tmp_path, closed)
    order_id = await add(api, key, "https://ig.com/crash")
    # The first attempt failed to connect and put it back in the queue (not in flight).
    await poll_until(lambda: _is(_attempted(pool, order_id), ("queued", 1)))
    await kill(proc)  # SIGKILL: nothing runs on the way out
    assert await state_of(pool, order_id) == "queued"
    proc, _ = await start_server(dsn, tmp_path, sim.url)
    try:
        await poll_until(lambda: _is(state_of(pool, order_id), "placed"))
        await asyncio.sleep(0.5)  # more scans: nothing more goes out
    finally:
        await kill(proc)
    assert sim.state.adds_for_link("https://ig.com/crash") == 1


async def test_order_in_flight_at_a_crash_is_never_sent_again(dsn, pool, sim, tmp_path) -> None:
    key = await prepare(pool, sim)
    sim.state.config.latency = 3.0
    proc, api = await start_server(dsn, tmp_path, sim.url)
    order_id = await add(api, key, "https://ig.com/in-flight")  # answered before dispatch ends
    await poll_until(lambda: _is(sim.state.adds_for_link("https://ig.com/in-flight"), 1))
    await kill(proc)  # while the provider is still answering
    assert await state_of(pool, order_id) == "sending"
    sim.state.config.latency = 0.0
    proc, _ = await start_server(dsn, tmp_path, sim.url)
    try:
        await asyncio.sleep(0.5)
        assert await state_of(pool, order_id) == "sending"  # not claimed, not re-sent
        # Once it has been in flight longer than any call can last, it is surfaced.
        await pool.execute("UPDATE orders SET updated_at = now() - interval '1 hour'")
        await poll_until(lambda: _is(state_of(pool, order_id), "uncertain"))
    finally:
        await kill(proc)
    assert sim.state.adds_for_link("https://ig.com/in-flight") == 1


async def _attempted(pool, order_id: int) -> tuple[str, int]:
    row = await pool.fetchrow(
        "SELECT dispatch_state, dispatch_attempts FROM orders WHERE id = $1", order_id
    )
    return row["dispatch_state"], row["dispatch_attempts"]


async def _is(value, expected) -> bool:
    return (await value if asyncio.iscoroutine(value) else value) == expected
