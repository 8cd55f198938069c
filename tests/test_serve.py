"""`reseller serve` as a real process: migrates, answers /healthz, stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from pathlib import Path

import orjson
import pytest
from conftest import with_database
from support import free_port, start_reseller, stop, wait_for_http

pytestmark = pytest.mark.slow


def test_serve_with_a_dsn_answers_healthz_and_exits_0_on_sigterm(dsn: str, tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "RESELLER_DSN": dsn}
    env.pop("RESELLER_CONFIG", None)
    proc = start_reseller("--no-config", "serve", "--port", str(port), env=env, cwd=tmp_path)
    try:
        status, body = wait_for_http(f"http://127.0.0.1:{port}/healthz", proc)
        assert (status, orjson.loads(body)) == (200, {"status": "ok", "database": "up"})
    finally:
        assert stop(proc) == 0


def test_serve_without_a_dsn_runs_the_embedded_database(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("RESELLER_DSN", "RESELLER_CONFIG")}
    env["RESELLER_DATA_DIR"] = str(tmp_path / "data")
    proc = start_reseller("--no-config", "serve", "--port", str(port), env=env, cwd=tmp_path)
    try:
        status, body = wait_for_http(f"http://127.0.0.1:{port}/healthz", proc)
        assert (status, orjson.loads(body)) == (200, {"status": "ok", "database": "up"})
        pid_file = tmp_path / "data" / "postgres" / "postmaster.pid"
        postmaster = int(pid_file.read_text().split()[0])
    finally:
        assert stop(proc) == 0
    # The embedded server ends with the service.
    with pytest.raises(ProcessLookupError):
        os.kill(postmaster, 0)


async def test_sighup_reloads_prices_and_refuses_a_bad_file(dsn, pool, sim, tmp_path) -> None:
    import aiohttp
    from support import poll_until, spawn_reseller
    from test_catalog_sync import YAML, make_config, run_sync

    from reseller import customers

    await run_sync(pool, make_config(sim))  # the provider's offers are stored
    _, key = await customers.create(pool, "acme")
    path = tmp_path / "config.yaml"
    path.write_text(YAML.format(url=sim.url, markup=50))
    port = free_port()
    env = {**os.environ, "RESELLER_DSN": dsn, "RESELLER_CONFIG": str(path)}
    proc = await spawn_reseller("serve", "--port", str(port), env=env, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}/api/v2"

    async def rate_of_service_1(session: aiohttp.ClientSession) -> str:
        async with session.post(url, data={"key": key, "action": "services"}) as answer:
            return next(s["rate"] for s in await answer.json() if s["service"] == 1)

    try:
        async with aiohttp.ClientSession() as session:
            await poll_until(lambda: rate_of_service_1(session))
            assert await rate_of_service_1(session) == "1.35"
            path.write_text(YAML.format(url=sim.url, markup=100))
            proc.send_signal(signal.SIGHUP)
            await poll_until(lambda: _equals(rate_of_service_1(session), "1.80"))
            path.write_text("pricing: {markup_percent: lots}\n")
            proc.send_signal(signal.SIGHUP)
            await asyncio.sleep(0.5)
            assert await rate_of_service_1(session) == "1.80"
            assert proc.returncode is None
    finally:
        proc.send_signal(signal.SIGTERM)
        output = (await proc.communicate())[0].decode()
    assert proc.returncode == 0, output
    assert "config_reload_refused" in output
    assert "pricing.markup_percent: must be a number" in output


async def _equals(value, expected) -> bool:
    return await value == expected


def test_reseller_simulate_runs_a_panel_that_answers_api_v2(tmp_path) -> None:
    import urllib.parse
    import urllib.request

    port = free_port()
    env = {**os.environ, "SIM_API_KEY": "demo-key"}
    proc = start_reseller("simulate", "--port", str(port), "--latency", "0", env=env, cwd=tmp_path)
    try:
        url = f"http://127.0.0.1:{port}/api/v2"
        wait_for_http(url, proc)  # any answer: it is listening
        body = urllib.parse.urlencode({"key": "demo-key", "action": "balance"}).encode()
        with urllib.request.urlopen(url, data=body, timeout=5) as answer:
            assert orjson.loads(answer.read()) == {"balance": "1000.00", "currency": "USD"}
    finally:
        assert stop(proc) == 0


def test_demo_prints_a_key_and_a_curl_that_places_an_order_which_completes(tmp_path) -> None:
    _demo_places_an_order_that_completes(tmp_path)


def test_a_second_demo_run_on_the_same_data_places_orders_that_complete(tmp_path) -> None:
    first = _demo_places_an_order_that_completes(tmp_path)
    # A new simulated panel, the same database: its order IDs must not repeat the first run's.
    second = _demo_places_an_order_that_completes(tmp_path)
    assert second > first


def _demo_places_an_order_that_completes(tmp_path: Path) -> int:
    """Run `reseller demo` on tmp_path/data, place the banner's order, wait for its end; its ID."""
    import re
    import time
    import urllib.parse
    import urllib.request

    port, panel_port, console_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("RESELLER_DSN", "RESELLER_CONFIG")}
    env["RESELLER_DATA_DIR"] = str(tmp_path / "data")
    proc = start_reseller(
        "demo",
        "--port",
        str(port),
        "--panel-port",
        str(panel_port),
        "--console-port",
        str(console_port),
        "--panel-tick",
        "0.2",
        env=env,
        cwd=tmp_path,
    )
    try:
        banner = ""
        while "Ctrl-C stops everything" not in banner:
            line = proc.stdout.readline()
            assert line, f"demo exited: {banner}"
            banner += line
        curl = re.search(r"^\s+(curl -s \S+ -d key=\S+ -d action=add .*)$", banner, re.M).group(1)
        url = curl.split()[2]
        fields = dict(p.split("=", 1) for p in re.findall(r"-d (\S+)", curl))

        def call(**extra: str) -> dict:
            body = urllib.parse.urlencode({**fields, **extra}).encode()
            with urllib.request.urlopen(url, data=body, timeout=5) as answer:
                return orjson.loads(answer.read())

        _console_signs_in(banner)
        placed = call()
        assert "order" in placed, placed
        order = placed["order"]
        deadline = time.monotonic() + 20
        while (status := call(action="status", order=str(order)))["status"] not in (
            "Completed",
            "Partial",
        ):
            assert time.monotonic() < deadline, status
            time.sleep(0.2)
    finally:
        assert stop(proc) == 0
    return order


def _console_signs_in(banner: str) -> None:
    """The banner's console answers its operator and password with the dashboard."""
    import http.cookiejar
    import re
    import urllib.parse
    import urllib.request

    found = re.search(r"console\s+(\S+)\s+\(operator \"(\w+)\", password (\S+):", banner)
    assert found, banner
    url, name, password = found.groups()
    browser = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    with browser.open(url + "login", timeout=5) as page:
        token = re.search(r'name="csrf" value="([^"]+)"', page.read().decode()).group(1)
    form = {"csrf": token, "name": name, "password": password}
    with browser.open(url + "login", urllib.parse.urlencode(form).encode(), timeout=10) as page:
        assert "<h1>Dashboard</h1>" in page.read().decode()  # signed in, the redirect followed


def test_serve_on_a_port_in_use_fails_in_one_line(dsn: str, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "RESELLER_DSN": dsn}
        env.pop("RESELLER_CONFIG", None)
        proc = start_reseller("--no-config", "serve", "--port", str(port), env=env, cwd=tmp_path)
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert f"reseller: cannot listen on 127.0.0.1:{port}: Address already in use" in output
    assert "Traceback" not in output


def test_serve_on_a_database_that_does_not_exist_fails_in_one_line(
    dsn: str, tmp_path: Path
) -> None:
    missing = with_database(dsn, "no_such_database_here")
    env = {**os.environ, "RESELLER_DSN": missing}
    env.pop("RESELLER_CONFIG", None)
    port = free_port()
    proc = start_reseller("--no-config", "serve", "--port", str(port), env=env, cwd=tmp_path)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert 'database "no_such_database_here" does not exist' in output
    assert "Traceback" not in output
