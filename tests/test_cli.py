"""The operator CLI, run as the console script would run it (in-process for speed)."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from reseller import api_keys, customers, db
from reseller.cli import main


def run_sync(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()  # only what this command prints
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


async def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """The CLI runs its own event loop, so from an async test it runs in a thread."""
    return await asyncio.to_thread(run_sync, capsys, *argv)


def usage_error(*argv: str) -> int:
    with pytest.raises(SystemExit) as caught:
        main(list(argv))
    return int(caught.value.code or 0)


async def test_customers_add_prints_a_working_key_once(cli_env, pool: db.Database, capsys) -> None:
    code, out, _ = await run(capsys, "customers", "add", "acme", "--balance", "25.5")
    assert code == 0
    key = re.search(r"API key \(shown once, store it now\): ([0-9a-f]{32})", out).group(1)
    stored = await pool.fetchval("SELECT api_key_hash FROM customers WHERE name = 'acme'")
    assert stored == api_keys.key_hash(key)
    assert (await customers.get(pool, "acme")).balance == Decimal("25.5")
    _, listing, _ = await run(capsys, "customers", "list")
    assert key not in listing
    assert re.search(r"acme\s+25.50\s+USD\s+active\s+default", listing)


async def test_suspend_resume_and_rotate_key(cli_env, pool: db.Database, capsys) -> None:
    await run(capsys, "customers", "add", "acme")
    assert (await run(capsys, "customers", "suspend", "acme"))[1].strip() == "acme: suspended"
    assert (await customers.get(pool, "acme")).suspended
    assert (await run(capsys, "customers", "resume", "acme"))[1].strip() == "acme: active"
    assert not (await customers.get(pool, "acme")).suspended
    code, out, _ = await run(capsys, "customers", "rotate-key", "acme")
    new_key = out.rsplit(" ", 1)[1].strip()
    assert code == 0
    stored = await pool.fetchval("SELECT api_key_hash FROM customers WHERE name = 'acme'")
    assert stored == api_keys.key_hash(new_key)


async def test_balance_add_and_refused_adjustment(cli_env, pool: db.Database, capsys) -> None:
    await run(capsys, "customers", "add", "acme")
    assert (await run(capsys, "balance", "add", "acme", "10", "--reason", "wire"))[
        1
    ].strip() == "acme: balance 10.00"
    assert (await run(capsys, "balance", "add", "acme", "-2.5", "--reason", "fee"))[
        1
    ].strip() == "acme: balance 7.50"
    code, _, err = await run(capsys, "balance", "add", "acme", "-7.50001", "--reason", "too much")
    assert code == 2
    assert err.strip() == "reseller: refused: acme's balance would go below zero"
    assert (await customers.get(pool, "acme")).balance == Decimal("7.5")
    assert await pool.fetchval("SELECT count(*) FROM ledger") == 2


@pytest.mark.parametrize(
    "argv",
    [
        ("balance", "add", "acme", "ten", "--reason", "x"),
        ("balance", "add", "acme", "1.000001", "--reason", "x"),
        ("balance", "add", "acme", "NaN", "--reason", "x"),
        ("balance", "add", "acme", "1"),
        ("balance", "add", "acme", "1", "--reason", " "),
        ("customers", "add", "acme", "--balance", "1e99"),
        ("customers", "add", "acme", "--currency", "usd"),
        ("customers", "frobnicate"),
        ("serve", "--port", "0"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(argv, capsys) -> None:
    assert usage_error(*argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "Traceback" not in err


async def test_unknown_customer_exits_2(cli_env, capsys) -> None:
    code, _, err = await run(capsys, "customers", "suspend", "ghost")
    assert (code, err) == (2, "reseller: no customer named 'ghost'\n")


async def test_zero_amount_is_refused(cli_env, capsys) -> None:
    await run(capsys, "customers", "add", "acme")
    code, _, err = await run(capsys, "balance", "add", "acme", "0", "--reason", "x")
    assert (code, err) == (2, "reseller: amount must not be zero\n")


async def test_duplicate_customer_exits_2(cli_env, capsys) -> None:
    await run(capsys, "customers", "add", "acme")
    code, _, err = await run(capsys, "customers", "add", "acme")
    assert (code, err) == (2, "reseller: Name already taken\n")


async def test_no_config_runs_a_writing_command_on_the_built_in_defaults(cli_env, capsys) -> None:
    code, out, err = await run(capsys, "--no-config", "migrate")
    assert (code, out, err) == (0, "database is up to date\n", "")


def test_no_config_and_a_config_file_together_are_a_usage_error(capsys) -> None:
    assert usage_error("--no-config", "--config", "x.yaml", "migrate") == 2
    assert "not allowed with" in capsys.readouterr().err


async def test_config_check_accepts_a_good_file_and_names_missing_secrets(
    cli_env, monkeypatch, capsys
) -> None:
    example = Path(__file__).parent.parent / "config.example.yaml"
    monkeypatch.delenv("MAINPANEL_API_KEY", raising=False)
    code, _, err = await run(capsys, "config", "check", str(example))
    assert code == 2
    assert "providers[0].key_env: environment variable MAINPANEL_API_KEY is not set" in err
    monkeypatch.setenv("MAINPANEL_API_KEY", "secret")
    code, out, _ = await run(capsys, "config", "check", str(example))
    assert (code, out) == (0, f"{example}: ok (1 providers, 1 services)\n")


def test_config_check_refuses_a_bad_file_without_traceback(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("providers:\n  - {name: a, url: 'not a url', key_env: A}\n")
    code, _, err = run_sync(capsys, "--config", str(bad), "config", "check")
    assert code == 2
    assert "providers[0].url: not a URL" in err
    assert "Traceback" not in err


def test_a_missing_config_file_is_a_clear_error(tmp_path: Path, capsys) -> None:
    code, _, err = run_sync(capsys, "--config", str(tmp_path / "nope.yaml"), "customers", "list")
    assert code == 2
    assert "nope.yaml: cannot read" in err


def test_unreachable_database_is_one_line_exit_1(monkeypatch, tmp_path: Path, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RESELLER_DSN", "postgresql://postgres@127.0.0.1:1/none")
    code, _, err = run_sync(capsys, "customers", "list")
    assert code == 1
    assert err.startswith("reseller: Database unavailable")
    assert err.count("\n") == 1


def test_the_console_script_is_installed(cli_env) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "reseller", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0
    assert "customers" in done.stdout
