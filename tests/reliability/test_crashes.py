"""Real processes: the server SIGKILLed at random points of a running workload, restarted;
and PostgreSQL restarted under load. Nothing lost, nothing doubled, clear errors meanwhile."""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import signal
from decimal import Decimal

import aiohttp
import pytest
from support import free_port, poll_until, spawn_reseller

from reseller import config, customers
from reseller.catalog import sync as catalog_sync
from reseller.embedded_pg import EmbeddedPostgres
from reseller.upstream import Upstreams
from tests.reliability import invariants

pytestmark = pytest.mark.slow
_LINKS = itertools.count()

YAML = """
providers:
  - {{name: sim, url: "{url}", key_env: SIM_TEST_KEY, timeout: 2, requests_per_minute: 100000}}
dispatch: {{scan_seconds: 0.1, retry_seconds: 0.1, stop_grace_seconds: 1}}
sync: {{status_seconds: 0.3, min_poll_seconds: 0.1}}
services:
  - {{id: 1, provider: sim, upstream_service: 1}}
"""


class Server:
    def __init__(self, dsn: str, tmp_path, url: str) -> None:
        self.path = tmp_path / "config.yaml"
        self.path.write_text(YAML.format(url=url))
        self.env = {
            **os.environ,
            "RESELLER_DSN": dsn,
            "RESELLER_CONFIG": str(self.path),
            "PYTHONFAULTHANDLER": "1",
        }
        self.cwd = tmp_path
        self.port = free_port()
        self.api = f"http://127.0.0.1:{self.port}/api/v2"
        self.proc = None

    async def start(self) -> None:
        self.proc = await spawn_reseller(
            "serve", "--port", str(self.port), env=self.env, cwd=self.cwd
        )

        async def up() -> bool:
            timeout = aiohttp.ClientTimeout(total=2)
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(self.api) as answer,
            ):
                return answer.status == 200

        await poll_until(up, within=30)

    def kill_if_running(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()

    async def signal(self, sig: int) -> int:
        self.proc.send_signal(sig)
        try:
            out = await asyncio.wait_for(self.proc.communicate(), 30)
        except TimeoutError:
            self.proc.send_signal(signal.SIGABRT)  # faulthandler prints every thread's stack
            out = await self.proc.communicate()
        self.output = out[0].decode()
        return self.proc.returncode


async def prepare(pool, sim, n: int = 5) -> list[str]:
    cfg = config.parse(YAML.format(url=sim.url))
    upstreams = Upstreams(cfg.providers)
    await catalog_sync.sync(pool, cfg, upstreams)
    await upstreams.close()
    keys = [(await customers.create(pool, f"c{i}", balance=Decimal(20)))[1] for i in range(n)]
    await pool.execute("UPDATE customers SET rate_limit_per_minute = 1000000")
    return keys


async def load(api: str, keys: list[str], acknowledged: list[int], stop: asyncio.Event) -> None:
    """Orders as fast as 8 clients can place them until `stop`; keeps every order ID answered.
    Every order has a link of its own, so the provider's log tells orders apart."""

    async def client(session: aiohttp.ClientSession, key: str) -> None:
        while not stop.is_set():
            form = {
                "key": key,
                "action": "add",
                "service": "1",
                "quantity": "100",
                "link": f"https://ig.com/crash-{next(_LINKS)}",
            }
            try:
                async with session.post(api, data=form) as answer:
                    body = await answer.json()
            except (TimeoutError, aiohttp.ClientError):
                await asyncio.sleep(0.02)  # the server is down: try again
                continue
            if "order" in body:
                acknowledged.append(body["order"])

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        await asyncio.gather(*(client(session, keys[i % len(keys)]) for i in range(8)))


async def test_sigkill_at_random_points_loses_and_doubles_nothing(dsn, pool, sim, tmp_path) -> None:
    keys = await prepare(pool, sim)
    sim.state.config.latency = 0.02  # calls in flight when the kill lands
    sim.state.config.tick = 0.1
    sim.state.config.partial_ratio = 0.3
    server = Server(dsn, tmp_path, sim.url)
    acknowledged: list[int] = []
    rng = random.Random(4)
    for _ in range(3):
        await server.start()
        stop = asyncio.Event()
        traffic = asyncio.create_task(load(server.api, keys, acknowledged, stop))
        await asyncio.sleep(rng.uniform(0.3, 1.0))
        assert await server.signal(signal.SIGKILL) == -signal.SIGKILL
        stop.set()
        await traffic
    await server.start()  # the last restart settles what the kills left
    try:
        await dispatch_settled(pool)
        await asyncio.sleep(1.0)  # a few sync rounds
    finally:
        code = await server.signal(signal.SIGTERM)
        assert code == 0, server.output[-6000:]
    stored = {r["id"] for r in await pool.fetch("SELECT id FROM orders")}
    assert set(acknowledged) <= stored, "an acknowledged order is missing"
    tally = await invariants.check(pool, sim.state)
    print(f"\n3 SIGKILLs under load: {len(acknowledged)} orders acknowledged, {tally}")
    assert len(acknowledged) > 20


async def dispatch_settled(pool) -> None:
    """Every order queued is sent, and every order left "sending" (its upstream answer could
    not be recorded: a kill, a lost database) is made uncertain by the stale sweep — aged
    here instead of waiting the 5 minutes that sweep allows a call."""
    await poll_until(lambda: _none_queued(pool), within=30)
    await pool.execute(
        "UPDATE orders SET updated_at = now() - interval '1 hour' WHERE dispatch_state = 'sending'"
    )
    await poll_until(lambda: _none_in_flight(pool), within=30)


async def _none_queued(pool) -> bool:
    return await pool.fetchval("SELECT count(*) FROM orders WHERE dispatch_state = 'queued'") == 0


async def _none_in_flight(pool) -> bool:
    return (
        await pool.fetchval(
            "SELECT count(*) FROM orders WHERE dispatch_state IN ('queued', 'sending')"
        )
        == 0
    )


async def test_postgres_restart_under_load_gives_clear_errors_then_recovers(sim, tmp_path) -> None:
    from reseller import db, migrations

    database = EmbeddedPostgres(tmp_path / "pg", fast=True)
    dsn = database.start()
    server = Server(dsn, tmp_path, sim.url)
    try:
        async with db.connection(dsn) as conn:
            await migrations.migrate(conn)
        pool = await db.create_pool(dsn, min_size=1, max_size=2)
        keys = await prepare(pool, sim, n=2)
        await pool.close()
        await server.start()
        answers: list[dict] = []
        async with aiohttp.ClientSession() as session:

            async def call() -> dict:
                async with session.post(
                    server.api, data={"key": keys[0], "action": "balance"}
                ) as r:
                    assert r.status == 200
                    assert r.content_type == "application/json"
                    return await r.json()

            answers.append(await call())
            database.stop()  # the database goes away under the running service
            for _ in range(5):
                answers.append(await call())
            database = EmbeddedPostgres(tmp_path / "pg", fast=True)
            database.start()  # same folder, same data

            async def recovered() -> bool:
                return "balance" in await call()

            await poll_until(recovered, within=30)
        assert await server.signal(signal.SIGTERM) == 0
    finally:
        server.kill_if_running()  # a failed assertion must not leave the server behind
        database.stop()
    assert answers[0] == {"balance": "20.00", "currency": "USD"}
    down = answers[1:]
    assert all(a == {"error": "Service temporarily unavailable, try again shortly"} for a in down)
