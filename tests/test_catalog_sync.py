"""Catalog sync against the simulated panel: offers stored, services priced, disabled when
gone or below cost, failover order kept; reload re-prices; a down provider keeps its offers;
a process start rebuilds the catalog, an API app only reads it. A sync or reload says what it
changed: services put on or taken off sale (why), sell rates moved."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from reseller import catalog, config
from reseller.catalog import sync as catalog_sync
from reseller.upstream import Upstreams

YAML = """
providers:
  - {{name: sim, url: "{url}", key_env: SIM_TEST_KEY}}
pricing:
  markup_percent: {markup}
  rounding: {{decimals: 2, mode: up}}
services:
  - id: 1
    upstreams: [{{provider: sim, service: 1}}, {{provider: sim, service: 3}}]
    name: Followers
  - {{id: 2, provider: sim, upstream_service: 2, rate: 0.20}}
imports:
  - {{provider: sim, category: "Telegram*", first_id: 100}}
"""


def make_config(sim, markup: int = 50) -> config.Config:
    return config.parse(YAML.format(url=sim.url, markup=markup))


async def run_sync(pool, cfg):
    upstreams = Upstreams(cfg.providers)
    try:
        return await catalog_sync.sync(pool, cfg, upstreams)
    finally:
        await upstreams.close()


async def test_sync_prices_services_and_disables_those_below_cost(pool, sim) -> None:
    report = await run_sync(pool, make_config(sim))
    assert report.offered == {"sim": 11}
    assert report.disabled == [(2, "sell rate 0.20 below cost 0.25")]
    live = await catalog.load(pool)
    followers = live.get(1)
    assert (followers.name, followers.rate, followers.min) == ("Followers", Decimal("1.35"), 50)
    assert live.get(2) is None
    poll = live.get(100)  # imported from "Telegram", stable ID from first_id
    assert (poll.type, poll.rate) == ("Poll", Decimal("1.13"))
    candidates = await pool.fetch(
        "SELECT priority, provider, upstream_service, cost_rate FROM service_upstreams"
        " WHERE service_id = 1 ORDER BY priority"
    )
    assert [tuple(r) for r in candidates] == [
        (0, "sim", "1", Decimal("0.90")),
        (1, "sim", "3", Decimal("2.10")),
    ]


async def test_upstream_rate_change_moves_the_sell_rate(pool, sim) -> None:
    cfg = make_config(sim)
    await run_sync(pool, cfg)
    sim.state.set_rate(1, Decimal("1.00"))
    await run_sync(pool, cfg)
    assert (await catalog.load(pool)).get(1).rate == Decimal("1.50")


async def test_service_gone_upstream_is_disabled_and_failover_takes_over(pool, sim) -> None:
    cfg = make_config(sim)
    await run_sync(pool, cfg)
    sim.state.remove_service(1)
    report = await run_sync(pool, cfg)
    assert (await catalog.load(pool)).get(1).rate == Decimal("3.15")  # priced from service 3
    sim.state.remove_service(3)
    report = await run_sync(pool, cfg)
    assert (1, "gone from sim") in report.disabled
    assert (await catalog.load(pool)).get(1) is None
    # Disabled, not deleted: its name stays for old orders and reports.
    assert await pool.fetchval("SELECT name FROM services WHERE id = 1") == "Followers"


async def test_a_down_provider_keeps_its_last_offers(pool, sim) -> None:
    cfg = make_config(sim)
    await run_sync(pool, cfg)
    sim.state.down = True
    report = await run_sync(pool, cfg)
    assert "sim" in report.failed
    assert (await catalog.load(pool)).get(1).rate == Decimal("1.35")


async def test_rebuild_with_a_new_markup_reprices_without_fetching(pool, sim) -> None:
    await run_sync(pool, make_config(sim))
    requests_before = len(sim.state.requests)
    await catalog_sync.rebuild(pool, make_config(sim, markup=100))
    assert (await catalog.load(pool)).get(1).rate == Decimal("1.80")
    assert len(sim.state.requests) == requests_before


async def test_concurrent_syncs_leave_one_consistent_catalog(pool, sim) -> None:
    cfg = make_config(sim)
    await asyncio.gather(*(run_sync(pool, cfg) for _ in range(3)))
    assert await pool.fetchval("SELECT count(*) FROM service_imports") == 1
    assert (await catalog.load(pool)).get(1).rate == Decimal("1.35")


async def test_services_cli_lists_cost_rate_and_margin(
    pool, sim, cli_env, tmp_path: Path, capsys
) -> None:
    from test_cli import run

    path = tmp_path / "config.yaml"
    path.write_text(YAML.format(url=sim.url, markup=50))
    code, out, _ = await run(capsys, "--config", str(path), "services", "sync")
    assert code == 0
    assert "sim: 11 services offered" in out
    assert "disabled 2: sell rate 0.20 below cost 0.25" in out
    code, out, _ = await run(capsys, "--config", str(path), "services", "list")
    rows = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert rows["1"].split()[:3] == ["1", "Followers", "Default"]
    # No route chosen yet (CHOSEN, WHY): the routing job has not run.
    assert rows["1"].split()[-8:] == ["sim:1", "0.90", "1.35", "33.3%", "on", "sale", "-", "-"]
    assert "disabled: sell rate 0.20 below cost 0.25" in rows["2"]


async def test_services_sync_without_a_config_file_refuses_and_keeps_the_catalog_on_sale(
    pool, sim, cli_env, capsys
) -> None:
    from test_cli import run

    await run_sync(pool, make_config(sim))  # a live catalog, and no config.yaml in the folder
    code, _, err = await run(capsys, "services", "sync")
    assert code == 2
    assert "no config file" in err
    for fix in ("--config FILE", "$RESELLER_CONFIG", "--no-config"):
        assert fix in err
    assert (await catalog.load(pool)).get(1).rate == Decimal("1.35")


async def _offers_nothing(sim, pool) -> None:
    """The provider's `services` answers [] — an upstream glitch, not the end of the catalog."""
    await run_sync(pool, make_config(sim))
    for service_id in list(sim.state.services):
        sim.state.remove_service(service_id)


async def test_services_sync_that_would_take_every_service_off_sale_refuses_without_force(
    pool, sim, cli_env, tmp_path: Path, capsys
) -> None:
    from test_cli import run

    await _offers_nothing(sim, pool)
    path = tmp_path / "config.yaml"
    path.write_text(YAML.format(url=sim.url, markup=50))
    code, out, err = await run(capsys, "--config", str(path), "services", "sync")
    assert code == 2, out
    assert "every service off sale" in err
    assert "--force" in err
    assert (await catalog.load(pool)).get(1).rate == Decimal("1.35")
    gone = await pool.fetchval("SELECT count(*) FROM upstream_services WHERE gone_at IS NOT NULL")
    assert gone == 0  # nothing written, not even the offers
    code, out, _ = await run(capsys, "--config", str(path), "services", "sync", "--force")
    assert code == 0
    assert "0 services on sale" in out
    assert (await catalog.load(pool)).get(1) is None


async def test_scheduled_catalog_sync_keeps_the_catalog_when_it_would_empty_it(pool, sim) -> None:
    from reseller.jobs.scheduler import Jobs

    await _offers_nothing(sim, pool)
    cfg = make_config(sim)
    upstreams = Upstreams(cfg.providers)
    try:
        counts = await Jobs(pool, config.LiveConfig(cfg), upstreams).catalog()
    finally:
        await upstreams.close()
    assert counts["refused"] == 1
    assert (await catalog.load(pool)).get(1).rate == Decimal("1.35")


async def test_a_process_start_rebuilds_the_catalog_from_its_config(dsn, pool, sim) -> None:
    from reseller import server

    await run_sync(pool, make_config(sim))
    assert (await catalog.load(pool)).get(1).rate == Decimal("1.35")
    async with server.running(make_config(sim, markup=100), dsn, jobs=False):
        assert (await catalog.load(pool)).get(1).rate == Decimal("1.80")


async def test_an_api_app_serves_the_stored_catalog_and_writes_none(pool, sim) -> None:
    from aiohttp.test_utils import TestServer

    from reseller.api.app import create_app
    from reseller.api.appkeys import CATALOG

    await run_sync(pool, make_config(sim))
    stored = await pool.fetch("SELECT * FROM services ORDER BY id")
    # An app given a config naming no services: were it to rebuild, all would go off sale.
    app = create_app(
        config.parse(f'providers:\n  - {{name: sim, url: "{sim.url}", key_env: K}}\n'), pool=pool
    )
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        assert app[CATALOG].current.get(1).rate == Decimal("1.35")
    finally:
        await server.close()
    assert await pool.fetch("SELECT * FROM services ORDER BY id") == stored


def _change_upstream(sim) -> None:
    """Service 1's cost rises (its sell rate moves), 2's falls below its fixed rate (on sale),
    the panel's Telegram service behind import 100 goes."""
    sim.state.set_rate(1, Decimal("1.00"))
    sim.state.set_rate(2, Decimal("0.10"))
    sim.state.remove_service(9)


async def test_a_sync_reports_what_it_put_on_and_took_off_sale_and_how_many_rates_moved(
    pool, sim
) -> None:
    first = await run_sync(pool, make_config(sim))
    assert first.changes == catalog_sync.Changes(put_on_sale=(1, 100))
    _change_upstream(sim)
    second = await run_sync(pool, make_config(sim))
    assert second.changes == catalog_sync.Changes(
        put_on_sale=(2,), taken_off_sale=((100, "gone from sim"),), prices_moved=1
    )
    assert not (await run_sync(pool, make_config(sim))).changes
    # A service leaving the config is taken off sale, and says so.
    without_2 = YAML.format(url=sim.url, markup=50).replace(
        "  - {id: 2, provider: sim, upstream_service: 2, rate: 0.20}\n", ""
    )
    rebuilt = await catalog_sync.rebuild(pool, config.parse(without_2))
    assert rebuilt.changes.taken_off_sale == ((2, "not in config"),)


async def test_services_sync_prints_what_changed(
    pool, sim, cli_env, tmp_path: Path, capsys
) -> None:
    from test_cli import run

    (tmp_path / "config.yaml").write_text(YAML.format(url=sim.url, markup=50))
    await run_sync(pool, make_config(sim))
    _change_upstream(sim)
    code, out, _ = await run(capsys, "services", "sync")
    assert code == 0
    assert out.splitlines()[-3:] == [
        "changed: 1 put on sale, 1 taken off sale, 1 sell rates moved",
        "  put on sale: 2",
        "  taken off sale 100: gone from sim",
    ]
    code, out, _ = await run(capsys, "services", "sync")
    assert out.splitlines()[-1] == (
        "changed: nothing (no service put on or taken off sale, no sell rate moved)"
    )


@pytest.mark.usefixtures("info_logs")
async def test_a_reload_logs_what_changed_and_nothing_when_nothing_did(
    dsn, pool, sim, tmp_path: Path
) -> None:
    from reseller import server

    path = tmp_path / "config.yaml"
    path.write_text(YAML.format(url=sim.url, markup=50))
    await run_sync(pool, make_config(sim))
    async with server.running(config.load(path), dsn, jobs=False) as rt:
        path.write_text(YAML.format(url=sim.url, markup=100))
        with capture_logs() as logs:
            assert await server.reload(rt)
        changed = [line for line in logs if line["event"] == "catalog_changed"]
        assert changed == [
            {
                "event": "catalog_changed",
                "log_level": "info",
                "cause": "reload",
                "put_on_sale": 0,
                "taken_off_sale": 0,
                "prices_moved": 2,  # 1 and 100
                "put_on_sale_ids": [],
                "taken_off_sale_why": [],
            }
        ]
        with capture_logs() as logs:
            assert await server.reload(rt)
        assert [line["event"] for line in logs] == ["config_reloaded"]


@pytest.mark.usefixtures("info_logs")
async def test_the_scheduled_sync_logs_what_changed(pool, sim) -> None:
    from reseller.jobs.scheduler import Jobs

    cfg = make_config(sim)
    await run_sync(pool, cfg)
    _change_upstream(sim)
    upstreams = Upstreams(cfg.providers)
    try:
        with capture_logs() as logs:
            await Jobs(pool, config.LiveConfig(cfg), upstreams).catalog()
    finally:
        await upstreams.close()
    changed = next(line for line in logs if line["event"] == "catalog_changed")
    assert changed["cause"] == "sync"
    assert changed["taken_off_sale_why"] == ["100: gone from sim"]
    assert (changed["put_on_sale_ids"], changed["prices_moved"]) == ([2], 1)


@pytest.mark.usefixtures("info_logs")
def test_the_changed_line_stays_short_however_much_changed() -> None:
    changes = catalog_sync.Changes(
        put_on_sale=tuple(range(1, 1001)),
        taken_off_sale=tuple((i, "x" * 5000) for i in range(2001, 3001)),
        prices_moved=7,
    )
    with capture_logs() as logs:
        catalog_sync.log_changes(changes, cause="sync")
    (line,) = logs
    assert (line["put_on_sale"], line["taken_off_sale"], line["prices_moved"]) == (1000, 1000, 7)
    assert line["put_on_sale_ids"] == list(range(1, 21))
    assert len(line["taken_off_sale_why"]) == 20
    assert line["taken_off_sale_why"][0] == "2001: " + "x" * 100
