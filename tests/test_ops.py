"""Operating it: systemd notify, metrics in Prometheus format on their own address, readiness,
and logs that never carry a key — with real processes."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys

import aiohttp
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families
from support import free_port, poll_until, spawn_reseller

from reseller import customers
from reseller.customers import Decimal

pytestmark = pytest.mark.slow

PROVIDER_SECRET = "provider-secret-7f3a9c"


async def test_serve_tells_systemd_ready_watchdog_and_stopping(dsn, pool, tmp_path) -> None:
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify"))
    notify.setblocking(False)
    port = free_port()
    env = {
        **os.environ,
        "RESELLER_DSN": dsn,
        "NOTIFY_SOCKET": str(tmp_path / "notify"),
        "WATCHDOG_USEC": "200000",
    }
    env.pop("RESELLER_CONFIG", None)
    proc = await spawn_reseller(
        "--no-config", "serve", "--port", str(port), "--no-jobs", env=env, cwd=tmp_path
    )
    loop = asyncio.get_running_loop()
    said: list[str] = []

    async def heard(message: str) -> bool:
        while message not in said:
            said.append((await loop.sock_recv(notify, 256)).decode())
        return True

    try:
        await asyncio.wait_for(heard("READY=1"), 30)
        await asyncio.wait_for(heard("WATCHDOG=1"), 5)
        proc.send_signal(signal.SIGHUP)  # no config file: nothing to reload, keeps running
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(heard("STOPPING=1"), 15)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        await proc.communicate()
        notify.close()
    assert proc.returncode == 0


async def test_metrics_by_default_are_on_their_own_address_not_the_api_and_parse_as_prometheus(
    dsn, pool, sim, tmp_path
) -> None:
    _, key = await customers.create(pool, "acme", balance=Decimal(10))
    port, metrics_port = free_port(), free_port()
    path = tmp_path / "config.yaml"
    path.write_text(
        f"server: {{metrics_port: {metrics_port}}}\n"
        f'providers:\n  - {{name: sim, url: "{sim.url}", key_env: SIM_TEST_KEY}}\n'
        "services:\n  - {id: 1, provider: sim, upstream_service: 1, name: F, category: C,"
        " rate: 2, min: 10, max: 1000}\n"
    )
    env = {**os.environ, "RESELLER_DSN": dsn, "RESELLER_CONFIG": str(path)}
    proc = await spawn_reseller("serve", "--port", str(port), env=env, cwd=tmp_path)
    api = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:

            async def ready() -> bool:
                async with session.get(f"{api}/readyz") as answer:
                    return answer.status == 200

            await poll_until(ready)
            for action in ("balance", "services"):
                async with session.post(f"{api}/api/v2", data={"key": key, "action": action}):
                    pass
            form = {
                "key": key,
                "action": "add",
                "service": "1",
                "link": "https://a.com",
                "quantity": "100",
            }
            async with session.post(f"{api}/api/v2", data=form) as answer:
                assert "order" in await answer.json()
            async with session.get(f"{api}/metrics") as answer:
                assert answer.status == 404  # not on the public listener
            async with session.get(f"http://127.0.0.1:{metrics_port}/metrics") as answer:
                text = await answer.text()
    finally:
        proc.send_signal(signal.SIGTERM)
        await proc.communicate()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    requests = {
        (s.labels["action"], s.labels["outcome"]): s.value
        for s in families["reseller_api_requests"].samples
        if s.name.endswith("_total")
    }
    assert requests[("balance", "ok")] == 1
    assert requests[("add", "ok")] == 1
    assert "reseller_api_request_seconds" in families
    assert "reseller_dispatch_queue" in families
    assert "reseller_uncertain_orders" in families
    orders = [s for s in families["reseller_orders"].samples if s.value > 0]
    assert orders  # the order placed above, by status and dispatch state


async def test_logs_are_json_lines_without_any_key(dsn, pool, sim, tmp_path) -> None:
    _, key = await customers.create(pool, "acme", balance=Decimal(10))
    port = free_port()
    path = tmp_path / "config.yaml"
    path.write_text(
        f'providers:\n  - {{name: sim, url: "{sim.url}", key_env: PROVIDER_KEY}}\n'
        "services:\n  - {id: 1, provider: sim, upstream_service: 1}\n"
    )
    sim.state.config.key = PROVIDER_SECRET
    env = {
        **os.environ,
        "RESELLER_DSN": dsn,
        "RESELLER_CONFIG": str(path),
        "PROVIDER_KEY": PROVIDER_SECRET,
    }
    proc = await spawn_reseller("serve", "--port", str(port), env=env, cwd=tmp_path)
    api = f"http://127.0.0.1:{port}/api/v2"
    try:
        async with aiohttp.ClientSession() as session:
            await _listing_one_service(session, api, key)
            for fields in (
                {
                    "key": key,
                    "action": "add",
                    "service": "1",
                    "link": "https://ig.com/x",
                    "quantity": "100",
                },
                {"key": "wrong-" + key, "action": "balance"},
                {"key": key, "action": "status", "orders": "1,2"},
            ):
                async with session.post(api, data=fields):
                    pass
            await poll_until(lambda: _placed(pool))
    finally:
        proc.send_signal(signal.SIGTERM)
        output = (await proc.communicate())[0].decode()
    assert key not in output
    assert PROVIDER_SECRET not in output
    assert dsn not in output
    lines = [line for line in output.splitlines() if line.startswith("{")]
    assert any('"event":"request"' in line and '"request_id"' in line for line in lines)
    assert any('"event":"upstream_call"' in line and '"outcome":"ok"' in line for line in lines)
    assert any('"event":"job_run"' in line for line in lines)


async def _placed(pool) -> bool:
    return await pool.fetchval("SELECT count(*) FROM orders WHERE dispatch_state = 'placed'") == 1


async def test_metrics_on_api_serves_them_on_the_api_listener(dsn, pool, tmp_path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("server: {metrics_on_api: true}\n")
    port = free_port()
    env = {**os.environ, "RESELLER_DSN": dsn, "RESELLER_CONFIG": str(path)}
    proc = await spawn_reseller("serve", "--port", str(port), "--no-jobs", env=env, cwd=tmp_path)

    async def metrics_text(session: aiohttp.ClientSession) -> str | None:
        async with session.get(f"http://127.0.0.1:{port}/metrics") as answer:
            return await answer.text() if answer.status == 200 else None

    try:
        async with aiohttp.ClientSession() as session:
            text = await poll_until(lambda: metrics_text(session))
    finally:
        proc.send_signal(signal.SIGTERM)
        output = (await proc.communicate())[0].decode()
    assert proc.returncode == 0, output
    assert "reseller_dispatch_queue" in {f.name for f in text_string_to_metric_families(text)}
    assert "metrics_listening" not in output  # and no listener of their own


async def test_serve_refuses_to_start_when_the_configured_metrics_port_is_taken(
    dsn, pool, tmp_path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        metrics_port = taken.getsockname()[1]
        path = tmp_path / "config.yaml"
        path.write_text(f"server: {{metrics_port: {metrics_port}}}\n")
        env = {**os.environ, "RESELLER_DSN": dsn, "RESELLER_CONFIG": str(path)}
        proc = await spawn_reseller(
            "serve", "--port", str(free_port()), "--no-jobs", env=env, cwd=tmp_path
        )
        output = (await asyncio.wait_for(proc.communicate(), 30))[0].decode()
    assert proc.returncode == 2, output
    assert (
        f"reseller: server.metrics_port: cannot listen on 127.0.0.1:{metrics_port}: "
        "Address already in use"
    ) in output


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as listing:
        return [int(p) for p in listing.read().split()]


async def test_workers_share_one_port_and_the_metrics_port_and_stop_together(
    dsn, pool, tmp_path
) -> None:
    port, metrics_port = free_port(), free_port()
    path = tmp_path / "config.yaml"
    path.write_text(f"server: {{metrics_port: {metrics_port}}}\n")
    env = {**os.environ, "RESELLER_DSN": dsn, "RESELLER_CONFIG": str(path)}
    proc = await spawn_reseller(
        "serve",
        "--port",
        str(port),
        "--workers",
        "2",
        "--no-jobs",
        env=env,
        cwd=tmp_path,
    )

    def log() -> list[dict]:
        return [orjson.loads(line) for line in proc.output().splitlines() if line.startswith("{")]

    async def listening() -> list[int]:
        return sorted(line["worker"] for line in log() if line["event"] == "listening")

    try:
        async with aiohttp.ClientSession() as session:

            async def ready() -> bool:
                async with session.get(f"http://127.0.0.1:{port}/readyz") as answer:
                    return answer.status == 200

            await poll_until(ready)
            children = await poll_until(lambda: _two_children(proc.pid))
            # Each process's lines say which worker wrote them.
            assert await poll_until(lambda: _both(listening), within=30) == [1, 2]
            for _ in range(20):
                assert await ready()
                # Either child may take the scrape: both hold the metrics port.
                async with session.get(f"http://127.0.0.1:{metrics_port}/metrics") as answer:
                    assert answer.status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        await proc.communicate()
    assert proc.returncode == 0
    assert {line.get("worker") for line in log() if line["event"] == "request"} <= {1, 2}
    for pid in children:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


async def _both(listening) -> list[int] | None:
    found = await listening()
    return found if len(found) == 2 else None


async def _two_children(pid: int) -> list[int] | None:
    found = _children(pid)
    return found if len(found) == 2 else None


async def test_workers_die_with_a_killed_parent(dsn, pool, tmp_path) -> None:
    port = free_port()
    env = {**os.environ, "RESELLER_DSN": dsn}
    env.pop("RESELLER_CONFIG", None)
    proc = await spawn_reseller(
        "--no-config",
        "serve",
        "--port",
        str(port),
        "--workers",
        "2",
        "--no-jobs",
        env=env,
        cwd=tmp_path,
    )
    children = await poll_until(lambda: _two_children(proc.pid))
    proc.send_signal(signal.SIGKILL)
    await proc.wait()

    async def all_gone() -> bool:
        return not any(_running(pid) for pid in children)

    await poll_until(all_gone, within=10)


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting for init to reap it."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("command", ["serve", "worker", "migrate"])
def test_commands_that_write_refuse_to_run_without_a_config_file(command, dsn, tmp_path) -> None:
    env = {**os.environ, "RESELLER_DSN": dsn}
    env.pop("RESELLER_CONFIG", None)
    argv = [sys.executable, "-m", "reseller", command]
    if command == "serve":
        argv += ["--port", str(free_port())]
    try:
        done = subprocess.run(
            argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=20
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"`reseller {command}` ran on the built-in defaults with no config file")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith(f"reseller: no config file found: `{command}` ")
    for fix in ("--config FILE", "$RESELLER_CONFIG", "--no-config"):
        assert fix in done.stderr


async def test_serve_api_only_takes_orders_and_leaves_sending_them_to_a_worker(
    dsn, pool, sim, tmp_path
) -> None:
    _, key = await customers.create(pool, "acme", balance=Decimal(10))
    port = free_port()
    path = tmp_path / "config.yaml"
    path.write_text(
        f'providers:\n  - {{name: sim, url: "{sim.url}", key_env: SIM_TEST_KEY}}\n'
        "dispatch: {scan_seconds: 0.05}\n"
        "sync: {status_seconds: 0.1, min_poll_seconds: 0.01}\n"
        # Priced here: the catalog sync that would price it from the panel is a job.
        "services:\n  - {id: 1, provider: sim, upstream_service: 1, name: F, category: C,"
        " rate: 2, min: 10, max: 1000}\n"
    )
    env = {**os.environ, "RESELLER_DSN": dsn, "RESELLER_CONFIG": str(path)}
    serve = await spawn_reseller("serve", "--port", str(port), "--api-only", env=env, cwd=tmp_path)
    worker = None
    api = f"http://127.0.0.1:{port}/api/v2"
    try:
        async with aiohttp.ClientSession() as session:
            await _listing_one_service(session, api, key)
            form = {"key": key, "action": "add", "service": "1", "link": "https://a.com"}
            async with session.post(api, data={**form, "quantity": "100"}) as answer:
                order = (await answer.json())["order"]
        # Twenty scans of a dispatcher, had this process one: the order is still ours alone.
        await asyncio.sleep(1)
        assert await _dispatch_state(pool, order) == "queued"
        assert sim.state.orders == {}
        worker = await spawn_reseller("worker", env=env, cwd=tmp_path)

        async def sent() -> bool:
            return await _dispatch_state(pool, order) == "placed"

        await poll_until(sent, within=30)
        assert len(sim.state.orders) == 1
    finally:
        for proc in (serve, worker):
            if proc is not None:
                proc.send_signal(signal.SIGTERM)
                await proc.communicate()
    assert serve.returncode == 0


async def _dispatch_state(pool, order: int) -> str:
    return await pool.fetchval("SELECT dispatch_state FROM orders WHERE id = $1", order)


async def _listing_one_service(session: aiohttp.ClientSession, api: str, key: str) -> None:
    """Until the server answers `services` with its one service (it is up, catalog loaded)."""

    async def up() -> bool:
        async with session.post(api, data={"key": key, "action": "services"}) as r:
            return len(await r.json()) == 1

    await poll_until(up)
