"""Every operator action records who did it (`--actor`, default the OS user) and why, in the
same transaction as the action; `reseller audit` lists them, as a table, CSV or JSON."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import orjson
from test_cli import run, usage_error

from reseller import audit, db


async def test_operator_actions_are_listed_with_actor_reason_and_detail(
    cli_env, pool: db.Database, capsys, tmp_path: Path
) -> None:
    assert (await run(capsys, "--actor", "alice", "customers", "add", "acme"))[0] == 0
    # --actor and --config are taken after the command too.
    config = tmp_path / "config.yaml"
    config.write_text("api: {currency: USD}\n")
    topup = ("balance", "add", "acme", "25", "--reason", "wire 7781", "--actor", "bob")
    assert (await run(capsys, *topup, "--config", str(config)))[0] == 0
    assert (await run(capsys, "customers", "suspend", "acme", "--reason", "chargeback"))[0] == 0
    code, out, _ = await run(capsys, "audit", "--csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["actor"], r["action"], r["subject"], r["reason"]) for r in rows] == [
        ("alice", "customer-add", "acme", ""),
        ("bob", "topup", "acme", "wire 7781"),
        (audit.os_user(), "suspend", "acme", "chargeback"),
    ]
    assert orjson.loads(rows[0]["detail"]) == {"currency": "USD", "balance": "0.00"}
    assert orjson.loads(rows[1]["detail"]) == {"amount": "25.00"}
    code, out, _ = await run(capsys, "audit", "--json", "--subject", "acme")
    assert [entry["action"] for entry in orjson.loads(out)] == ["customer-add", "topup", "suspend"]
    _, table, _ = await run(capsys, "audit")
    assert table.splitlines()[0].split() == [
        "ID", "AT", "ACTOR", "ACTION", "SUBJECT", "REASON", "DETAIL"
    ]  # fmt: skip


async def test_an_action_that_fails_leaves_no_audit_entry(cli_env, pool, capsys) -> None:
    await run(capsys, "customers", "add", "acme")
    code, _, err = await run(capsys, "balance", "add", "acme", "-5", "--reason", "oops")
    assert code != 0
    assert "below zero" in err
    assert await pool.fetchval("SELECT count(*) FROM audit_log WHERE action <> 'customer-add'") == 0


async def test_audit_dates_bound_the_listing(cli_env, pool, capsys) -> None:
    await run(capsys, "customers", "add", "acme")
    await run(capsys, "customers", "rotate-key", "acme")
    code, out, _ = await run(capsys, "audit", "--from", "2000-01-01", "--to", "2000-01-02", "--csv")
    assert (code, out.strip()) == (0, "id,at,actor,action,subject,reason,detail")
    assert usage_error("audit", "--from", "2026-13-01") == 2
    assert "not a date (YYYY-MM-DD): '2026-13-01'" in capsys.readouterr().err
