"""The embedded PostgreSQL SIGKILLed under a running `reseller serve`: the service restarts it
and answers again within seconds, nothing acknowledged lost or doubled, one log line per change
of state. When it cannot be restarted, /healthz fails and the process exits non-zero."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from support import free_port, poll_until

from reseller import config, db, server
from reseller.dbserver import Supervisor
from reseller.embedded_pg import EmbeddedPostgres, EmbeddedPostgresError
from tests.reliability import invariants
from tests.reliability.test_crashes import YAML, dispatch_settled, load, prepare

pytestmark = pytest.mark.slow
UNAVAILABLE = {"error": "Service temporarily unavailable, try again shortly"}


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A short folder: the server's Unix socket path must fit in 107 bytes."""
    folder = Path(tempfile.mkdtemp(prefix="rs-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def postmaster_pid(cluster: Path) -> int:
    return int((cluster / "postmaster.pid").read_text().split()[0])


def break_cluster(cluster: Path) -> None:
    """A config line PostgreSQL refuses at start: every restart fails until an operator acts."""
    with (cluster / "postgresql.auto.conf").open("a") as conf:
        conf.write("this is not a setting\n")


class Service:
    """`reseller serve` (or `--workers N`) on an embedded server in `data_dir`, no DSN."""

    def __init__(self, data_dir: Path, url: str, extra_yaml: str = "") -> None:
        self.cluster = data_dir / "postgres"
        path = data_dir / "config.yaml"
        path.write_text(YAML.format(url=url) + extra_yaml)
        self.env = {
            k: v for k, v in os.environ.items() if k not in ("RESELLER_DSN", "RESELLER_CONFIG")
        }
        self.env |= {"RESELLER_DATA_DIR": str(data_dir), "RESELLER_CONFIG": str(path)}
        self.cwd = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.dsn = f"postgresql://postgres@/postgres?host={self.cluster}&port=5432"

    async def start(self, *argv: str) -> None:
        # Its logs go to a file: a pipe nobody reads while it runs would fill and stall it.
        self.log = self.cwd / "serve.log"
        with self.log.open("wb") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "reseller",
                "serve",
                "--port",
                str(self.port),
                *argv,
                env=self.env,
                cwd=self.cwd,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )

        async def up() -> bool:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session,
                session.get(self.url + "/readyz") as answer,
            ):
                return answer.status == 200

        await poll_until(up, within=60)

    async def balance(self, session: aiohttp.ClientSession, key: str) -> dict:
        async with session.post(self.url + "/api/v2", data={"key": key, "action": "balance"}) as r:
            return await r.json()

    async def finish(self, sig: int | None = signal.SIGTERM) -> tuple[int, str]:
        """Its exit code and output, after `sig` (None: it ends by itself)."""
        if sig is not None and self.proc.returncode is None:
            self.proc.send_signal(sig)
        code = await asyncio.wait_for(self.proc.wait(), 60)
        return code, self.log.read_text()


async def kill_and_time_recovery(service: Service, key: str) -> tuple[float, list[dict]]:
    """SIGKILL the postmaster; seconds until the API answers a balance again after the outage,
    and the answers given during it (a call already in a backend may still be answered)."""
    answers = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        assert "balance" in await service.balance(session, key)
        killed = time.monotonic()
        os.kill(postmaster_pid(service.cluster), signal.SIGKILL)
        while time.monotonic() - killed < 30:
            answer = await service.balance(session, key)
            if "balance" not in answer:
                answers.append(answer)
            elif answers:
                return time.monotonic() - killed, answers
            await asyncio.sleep(0.02)
    raise AssertionError(f"no answer within 30 s of the kill: {answers[-3:]}")


@pytest.mark.parametrize("workers", [1, 2], ids=["serve", "serve-workers-2"])
async def test_sigkilled_embedded_postgres_under_load_restarts_and_loses_nothing(
    sim, data_dir: Path, workers: int
) -> None:
    sim.state.config.latency = 0.02  # upstream calls in flight when the kill lands
    sim.state.config.tick = 0.1
    service = Service(data_dir, sim.url)
    await service.start("--workers", str(workers))
    pool = await db.create_pool(service.dsn, min_size=1, max_size=4)
    try:
        keys = await prepare(pool, sim, n=4)
        acknowledged: list[int] = []
        stop = asyncio.Event()
        traffic = asyncio.create_task(load(service.url + "/api/v2", keys, acknowledged, stop))
        await poll_until(lambda: _true(len(acknowledged) > 10), within=30)
        recovered_in, meanwhile = await kill_and_time_recovery(service, keys[0])
        placed_before = len(acknowledged)
        await poll_until(lambda: _true(len(acknowledged) > placed_before + 10), within=30)
        stop.set()
        await traffic
        await dispatch_settled(pool)
        stored = {r["id"] for r in await pool.fetch("SELECT id FROM orders")}
        assert set(acknowledged) <= stored, "an acknowledged order is missing"
        tally = await invariants.check(pool, sim.state)
        code, output = await service.finish()  # its database stops with it
        assert code == 0, output[-4000:]
    finally:
        await pool.close()
        if service.proc.returncode is None:
            service.proc.kill()
            await service.proc.wait()
    print(f"\nrecovered in {recovered_in:.2f} s; {len(acknowledged)} acknowledged, {tally}")
    assert recovered_in < 10
    assert all(answer == UNAVAILABLE for answer in meanwhile), meanwhile
    # One line per change of state, not one per failed call or job: the embedded server's
    # owner says it died and came back; each process's probe may see the outage (if it lasts
    # past a probe) once.
    assert output.count('"embedded_postgres_died"') == 1, output
    assert output.count('"embedded_postgres_restarted"') == 1
    assert output.count('"database_unavailable"') <= workers
    assert "Traceback" not in output, [line for line in output.splitlines() if "Traceback" in line]


async def test_serve_exits_non_zero_when_embedded_postgres_cannot_be_restarted(
    sim, data_dir: Path
) -> None:
    service = Service(data_dir, sim.url, "database: {embedded_restart_seconds: 1}\n")
    await service.start()
    break_cluster(service.cluster)
    os.kill(postmaster_pid(service.cluster), signal.SIGKILL)
    code, output = await service.finish(sig=None)
    assert code == 1, output[-3000:]  # for systemd's Restart=on-failure
    assert "could not be restarted within 1 s" in output
    assert output.count('"embedded_postgres_gave_up"') == 1


async def test_healthz_fails_once_the_embedded_database_cannot_be_restarted(
    sim, data_dir: Path
) -> None:
    """In process, where /healthz can be asked between giving up and stopping."""
    embedded = EmbeddedPostgres(data_dir / "postgres", fast=True)
    embedded.start()
    settings = config.parse(YAML.format(url=sim.url))
    port = free_port()
    healthz: list[tuple[int, dict]] = []

    async def while_serving(_rt: server.Runtime) -> None:
        async with aiohttp.ClientSession() as session:

            async def ask() -> tuple[int, dict]:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as answer:
                    return answer.status, await answer.json()

            healthz.append(await ask())
            break_cluster(data_dir / "postgres")
            os.kill(postmaster_pid(data_dir / "postgres"), signal.SIGKILL)
            healthz.append(await poll_until(lambda: _failing(ask), within=15))

    try:
        with pytest.raises(EmbeddedPostgresError, match="could not be restarted"):
            await server.serve(
                settings,
                embedded.dsn,
                host="127.0.0.1",
                port=port,
                jobs=False,
                on_ready=while_serving,
                supervisor=Supervisor(embedded, give_up_after=1),
            )
    finally:
        embedded.stop()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):  # serve's, on the test's loop
            asyncio.get_running_loop().remove_signal_handler(sig)
    assert healthz[0] == (200, {"status": "ok", "database": "up"})
    status, body = healthz[1]
    assert status == 503
    assert body["status"] == "failing"
    assert "could not be restarted within 1 s" in body["reason"]


async def _failing(ask) -> tuple[int, dict] | None:
    status, body = await ask()
    return (status, body) if status == 503 else None


async def _true(value: bool) -> bool:
    return value


async def test_serve_waits_for_a_commands_embedded_server_then_runs_and_keeps_its_own(
    sim, data_dir: Path
) -> None:
    """A short command (`customers list`) may have started the embedded server when `serve`
    starts: `serve` waits for it to end instead of leaning on a server it could not restart."""
    commands = EmbeddedPostgres(data_dir / "postgres", fast=True)
    commands.start()
    service = Service(data_dir, sim.url)
    starting = asyncio.create_task(service.start())
    await asyncio.sleep(1.5)
    assert not starting.done()  # waiting for the command's server to end
    commands.stop()
    await starting
    try:
        async with aiohttp.ClientSession() as session, session.get(service.url + "/readyz") as r:
            assert r.status == 200
        os.kill(postmaster_pid(service.cluster), signal.SIGKILL)  # its own: restarted

        async def restarted() -> bool:
            return '"embedded_postgres_restarted"' in service.log.read_text()

        await poll_until(restarted, within=10)
        async with aiohttp.ClientSession() as session:

            async def ready() -> bool:
                async with session.get(service.url + "/readyz") as answer:
                    return answer.status == 200

            await poll_until(ready, within=10)
    finally:
        code, output = await service.finish()
    assert code == 0, output[-3000:]
    assert output.count('"embedded_postgres_restarted"') == 1
