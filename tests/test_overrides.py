"""Operator overrides that survive a sync: `services disable ID --reason` keeps a service off
sale through every sync, reload and restart until `services enable ID`; `customers set NAME
--rate-limit N|default --name NEW`. Each is in the audit trail; `services list` and
`customers list` show them, as a table, CSV or JSON."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from support import poll_until
from test_catalog_sync import YAML, make_config, run_sync
from test_cli import run, usage_error

from reseller import catalog, customers, server
from reseller.audit import os_user
from reseller.catalog import sync as catalog_sync


@pytest.fixture
def config_file(sim, cli_env, tmp_path: Path) -> Path:
    """The catalog of test_catalog_sync (1 and 100 on sale, 2 below cost), where the CLI
    finds it."""
    path = tmp_path / "config.yaml"
    path.write_text(YAML.format(url=sim.url, markup=50))
    return path


async def _audit(capsys) -> list[dict[str, object]]:
    """The trail after the customers were added, each entry's detail decoded."""
    entries = orjson.loads((await run(capsys, "audit", "--json"))[1])
    return [
        {**e, "detail": e["detail"] and orjson.loads(e["detail"])}
        for e in entries
        if e["action"] != "customer-add"
    ]


async def test_a_disabled_service_stays_off_sale_through_sync_reload_and_restart(
    dsn, pool, sim, config_file: Path, capsys
) -> None:
    assert (await run(capsys, "services", "sync"))[0] == 0
    live = catalog.LiveCatalog()
    await live.refresh(pool)
    argv = ("--actor", "alice", "services", "disable", "1", "--reason", "complaints")
    code, out, _ = await run(capsys, *argv)
    assert code == 0
    assert out.startswith("service 1: disabled by operator (complaints)")
    assert await live.refresh(pool)  # a server notices at its next look
    assert live.current.get(1) is None
    assert (await run(capsys, "services", "sync"))[0] == 0  # a sync
    await catalog_sync.rebuild(pool, make_config(sim, markup=100))  # a reload
    async with server.running(make_config(sim), dsn, jobs=False):  # a restart
        assert (await catalog.load(pool)).get(1) is None
    _, listing, _ = await run(capsys, "services", "list")
    row = next(line for line in listing.splitlines() if line.startswith("1 "))
    assert "disabled by operator: complaints" in row
    code, out, _ = await run(capsys, "services", "enable", "1", "--reason", "resolved")
    assert code == 0
    assert out.splitlines()[0] == "service 1: no longer disabled by operator; on sale"
    assert "changed: 1 put on sale, 0 taken off sale, 0 sell rates moved" in out
    assert (await catalog.load(pool)).get(1).rate == Decimal("1.35")
    trail = [(e["actor"], e["action"], e["subject"], e["reason"]) for e in await _audit(capsys)]
    sync = (os_user(), "services-sync", "catalog")  # each `services sync`, by its user
    assert (trail[0][:3], trail[2][:3]) == (sync, sync)
    assert trail[1] == ("alice", "service-disable", "service 1", "complaints")
    assert trail[3][1:] == ("service-enable", "service 1", "resolved")


async def test_enable_puts_a_service_back_only_where_the_catalog_allows_it(
    pool, sim, config_file: Path, capsys
) -> None:
    await run_sync(pool, make_config(sim))
    assert (await run(capsys, "services", "disable", "2", "--reason", "check later"))[0] == 0
    entries = await _audit(capsys)
    assert entries[0]["detail"] == {"was": "off sale: sell rate 0.20 below cost 0.25"}
    code, out, _ = await run(capsys, "services", "enable", "2")
    assert code == 0
    assert out.splitlines() == [
        "service 2: no longer disabled by operator; off sale: sell rate 0.20 below cost 0.25",
        "changed: nothing (no service put on or taken off sale, no sell rate moved)",
    ]
    assert (await catalog.load(pool)).get(2) is None
    assert (await _audit(capsys))[1]["detail"] == {
        "now": "off sale: sell rate 0.20 below cost 0.25"
    }


async def test_disable_and_enable_refuse_what_is_not_a_service_in_one_line(
    pool, sim, config_file: Path, capsys
) -> None:
    await run_sync(pool, make_config(sim))
    code, _, err = await run(capsys, "services", "disable", "999", "--reason", "x")
    assert (code, err) == (2, "reseller: no service with ID 999\n")
    code, _, err = await run(capsys, "services", "enable", "999")
    assert (code, err) == (2, "reseller: no service with ID 999\n")
    code, _, err = await run(capsys, "services", "enable", "1")
    assert code == 2
    assert err == "reseller: service 1 is not disabled by the operator; nothing changed\n"
    for argv in (("disable", "abc", "--reason", "x"), ("disable", "1"), ("enable", "0")):
        assert usage_error("services", *argv) == 2
        assert capsys.readouterr().err.count("\n") == 1
    assert await pool.fetchval("SELECT count(*) FROM audit_log") == 0
    assert (await catalog.load(pool)).get(1) is not None


async def test_enable_runs_on_a_config_file_only(pool, sim, cli_env, capsys) -> None:
    """It re-applies the config: on the built-in defaults (no services) it would take the whole
    catalog off sale."""
    await run_sync(pool, make_config(sim))
    assert (await run(capsys, "services", "disable", "1", "--reason", "x"))[0] == 0  # no config
    code, _, err = await run(capsys, "services", "enable", "1")
    assert code == 2
    assert "no config file" in err
    assert await pool.fetchval("SELECT count(*) FROM service_overrides") == 1


async def test_services_list_exports_csv_and_json(pool, sim, config_file: Path, capsys) -> None:
    await run_sync(pool, make_config(sim))
    await run(capsys, "services", "disable", "100", "--reason", "too slow")
    code, out, _ = await run(capsys, "services", "list", "--json")
    assert code == 0
    by_id = {s["id"]: s for s in orjson.loads(out)}
    assert by_id[1] == {
        "id": 1,
        "name": "Followers",
        "type": "Default",
        "upstream": "sim:1",
        "cost": "0.90",
        "rate": "1.35",
        "margin": "33.3%",
        "state": "on sale",
        "chosen": None,  # the routing job has not run
        "why": None,
    }
    assert by_id[100]["state"] == "disabled by operator: too slow"
    code, out, _ = await run(capsys, "services", "list", "--csv", "--enabled")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["id"], r["state"]) for r in rows] == [("1", "on sale")]


async def test_customers_set_rate_limit_is_listed_enforced_and_audited(
    api, cli_env, pool, capsys
) -> None:
    _, out, _ = await run(capsys, "customers", "add", "acme")
    key = re.search(r"store it now\): (\w+)", out).group(1)
    code, out, _ = await run(capsys, "customers", "set", "acme", "--rate-limit", "2")
    assert (code, out) == (0, "acme: rate limit 2 per minute\n")
    _, out, _ = await run(capsys, "customers", "list", "--json")
    assert orjson.loads(out) == [
        {
            "id": 1,
            "name": "acme",
            "balance": "0.00",
            "currency": "USD",
            "state": "active",
            "rate_limit": 2,
            "group": None,
            "paid_30d": "0.00",
        }
    ]
    for _ in range(2):
        assert "balance" in await api.call(key=key, action="balance")
    assert (await api.raw(key=key, action="balance"))[0] == 429
    code, out, _ = await run(capsys, "customers", "set", "acme", "--rate-limit", "default")
    assert (code, out) == (0, "acme: rate limit default\n")

    async def served() -> bool:
        return (await api.raw(key=key, action="balance"))[0] == 200

    await poll_until(served, within=3)  # the config's 300 per minute again
    _, out, _ = await run(capsys, "customers", "list", "--csv")
    assert [r["rate_limit"] for r in csv.DictReader(io.StringIO(out))] == ["default"]
    assert [(e["action"], e["subject"], e["detail"]) for e in await _audit(capsys)] == [
        ("customer-set", "acme", {"rate_limit": {"from": "default", "to": 2}}),
        ("customer-set", "acme", {"rate_limit": {"from": 2, "to": "default"}}),
    ]


async def test_customers_set_name_renames_and_the_api_key_keeps_working(
    api, cli_env, pool, capsys
) -> None:
    _, out, _ = await run(capsys, "customers", "add", "acme")
    key = re.search(r"store it now\): (\w+)", out).group(1)
    await run(capsys, "customers", "add", "bob")
    assert "balance" in await api.call(key=key, action="balance")  # its key is cached now
    argv = ("customers", "set", "acme", "--name", "acme-2", "--reason", "rebrand")
    code, out, _ = await run(capsys, *argv)
    assert (code, out.splitlines()[0]) == (0, "acme is now acme-2 (its API key keeps working)")
    assert (await customers.get(pool, "acme-2")).id == 1
    assert await api.call(key=key, action="balance") == {"balance": "0.00", "currency": "USD"}
    code, _, err = await run(capsys, "customers", "set", "acme-2", "--name", "bob")
    assert code == 2
    assert err == "reseller: refused: a customer named 'bob' exists already; nothing changed\n"
    entries = await _audit(capsys)
    assert [(e["action"], e["subject"], e["reason"], e["detail"]) for e in entries] == [
        ("customer-set", "acme", "rebrand", {"name": {"from": "acme", "to": "acme-2"}})
    ]


async def test_customers_set_refuses_bad_values_in_one_line(cli_env, pool, capsys) -> None:
    await run(capsys, "customers", "add", "acme")
    code, _, err = await run(capsys, "customers", "set", "acme")
    assert code == 2
    assert err == "reseller: nothing to change: give --rate-limit N, --name NEW and/or --group G\n"
    code, _, err = await run(capsys, "customers", "set", "ghost", "--rate-limit", "5")
    assert (code, err) == (2, "reseller: no customer named 'ghost'\n")
    for value in ("0", "-1", "lots", "1000000001"):
        assert usage_error("customers", "set", "acme", "--rate-limit", value) == 2
        assert "not a rate limit" in capsys.readouterr().err
    assert usage_error("customers", "set", "acme", "--name", " ") == 2
    assert (await customers.get(pool, "acme")).rate_limit_per_minute is None
