"""`reseller customers statement NAME [--from D] [--to D] [--csv|--json]`: every ledger entry
of a customer, oldest first, with its order, kind, amount, reason and the balance after it,
opened by the balance before the period; with --to open it closes on the customer's balance."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import orjson
from test_cli import run, usage_error

from reseller import customers, db, money


async def _history(api, pool: db.Database, capsys) -> str:
    """acme: opened with 10, two orders charged, one of them refunded by the operator, a top-up
    and an adjustment. Returns its API key."""
    _, out, _ = await run(capsys, "customers", "add", "acme", "--balance", "10")
    key = re.search(r"store it now\): (\w+)", out).group(1)
    link = "https://instagram.com/acme"
    assert await api.call(key=key, action="add", service=1, link=link, quantity=1000) == {
        "order": 1
    }  # 0.90
    assert await api.call(key=key, action="add", service=2, link=link, quantity=100) == {
        "order": 2
    }  # 1.23456 × 100 / 1000, rounded up: 0.12346
    await pool.execute("UPDATE orders SET dispatch_state = 'uncertain' WHERE id = 1")
    assert (await run(capsys, "orders", "resolve", "1", "--refund"))[0] == 0
    assert (await run(capsys, "balance", "add", "acme", "5", "--reason", "wire 7781"))[0] == 0
    assert (await run(capsys, "balance", "add", "acme", "-1.5", "--reason", "fee"))[0] == 0
    return key


EXPECTED = [
    # entry, order, kind, amount, balance after, reason
    (1, None, "topup", "10.00", "10.00", "opening"),
    (2, 1, "charge", "-0.90", "9.10", None),
    (3, 2, "charge", "-0.12346", "8.97654", None),
    (4, 1, "refund", "0.90", "9.87654", "resolved by operator: not placed"),
    (5, None, "topup", "5.00", "14.87654", "wire 7781"),
    (6, None, "adjustment", "-1.50", "13.37654", "fee"),
]


async def test_statement_table_opens_on_the_balance_before_and_closes_on_the_balance(
    api, cli_env, pool, capsys
) -> None:
    await _history(api, pool, capsys)
    code, out, _ = await run(capsys, "customers", "statement", "acme")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "acme, USD: every entry"
    assert lines[1].split() == ["AT", "ENTRY", "ORDER", "KIND", "AMOUNT", "BALANCE", "REASON"]
    assert lines[2].split() == ["-", "-", "-", "opening", "-", "0.00", "-"]
    assert lines[-1].split() == ["-", "-", "-", "closing", "-", "13.37654", "-"]
    entries = [line.split(maxsplit=7)[2:] for line in lines[3:-1]]  # after the date and time
    assert entries == [
        [str(e), str(o or "-"), kind, amount, balance, reason or "-"]
        for e, o, kind, amount, balance, reason in EXPECTED
    ]


async def test_statement_json_closing_balance_is_the_customers_balance(
    api, cli_env, pool, capsys
) -> None:
    await _history(api, pool, capsys)
    code, out, _ = await run(capsys, "customers", "statement", "acme", "--json")
    assert code == 0
    statement = orjson.loads(out)
    entries = statement.pop("entries")
    assert statement == {
        "customer": "acme",
        "currency": "USD",
        "from": None,
        "to": None,
        "opening": "0.00",
        "closing": "13.37654",
    }
    assert [
        (e["entry"], e["order"], e["kind"], e["amount"], e["balance"], e["reason"]) for e in entries
    ] == EXPECTED
    # The invariant: balance = Σ ledger, and each running balance = the one before + amount.
    balance = (await customers.get(pool, "acme")).balance
    assert statement["closing"] == money.format_amount(balance)
    running = Decimal(statement["opening"])
    for e in entries:
        running += Decimal(e["amount"])
        assert Decimal(e["balance"]) == running


async def test_statement_csv_has_one_row_per_entry_with_its_running_balance(
    api, cli_env, pool, capsys
) -> None:
    await _history(api, pool, capsys)
    code, out, _ = await run(capsys, "customers", "statement", "acme", "--csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == ["at", "entry", "order", "kind", "amount", "balance", "reason"]
    assert [(r["entry"], r["order"], r["kind"], r["balance"]) for r in rows] == [
        (str(e), str(o or ""), kind, balance) for e, o, kind, _, balance, _ in EXPECTED
    ]


async def test_a_period_opens_on_the_entries_before_it_and_excludes_its_end(
    api, cli_env, pool, capsys
) -> None:
    await _history(api, pool, capsys)
    await pool.execute(
        "UPDATE ledger SET created_at = CASE WHEN id <= 2 THEN timestamptz '2026-01-05 10:00Z'"
        " WHEN id <= 4 THEN timestamptz '2026-02-10 10:00Z' ELSE timestamptz '2026-03-01 00:00Z'"
        " END"
    )
    argv = ("customers", "statement", "acme", "--from", "2026-02-01", "--to", "2026-03-01")
    code, out, _ = await run(capsys, *argv, "--json")
    assert code == 0
    february = orjson.loads(out)
    assert (february["from"], february["to"]) == ("2026-02-01", "2026-03-01")
    assert february["opening"] == "9.10"  # entries 1 and 2
    assert [e["entry"] for e in february["entries"]] == [3, 4]  # entry 5 is at --to: excluded
    assert february["closing"] == "9.87654"
    code, out, _ = await run(capsys, *argv)
    assert out.splitlines()[0] == "acme, USD: from 2026-02-01 to 2026-03-01 (excluded)"
    assert out.splitlines()[2].split() == ["2026-02-01", "-", "-", "opening", "-", "9.10", "-"]
    code, out, _ = await run(capsys, "customers", "statement", "acme", "--from", "2026-03-01")
    assert code == 0
    assert out.splitlines()[-1].split()[-2] == "13.37654"  # to now: the balance


async def test_a_customer_without_entries_has_an_empty_statement(cli_env, capsys) -> None:
    await run(capsys, "customers", "add", "acme", "--currency", "USD")
    code, out, _ = await run(capsys, "customers", "statement", "acme", "--json")
    assert code == 0
    empty = orjson.loads(out)
    assert (empty["opening"], empty["closing"], empty["entries"]) == ("0.00", "0.00", [])


async def test_statement_refuses_an_unknown_customer_and_a_backward_period(cli_env, capsys) -> None:
    code, _, err = await run(capsys, "customers", "statement", "ghost")
    assert (code, err) == (2, "reseller: no customer named 'ghost'\n")
    await run(capsys, "customers", "add", "acme")
    argv = ("customers", "statement", "acme", "--from", "2026-03-01", "--to", "2026-02-01")
    code, _, err = await run(capsys, *argv)
    assert (code, err) == (2, "reseller: --to must be after --from\n")
    assert usage_error("customers", "statement", "acme", "--from", "March") == 2
    assert "not a date (YYYY-MM-DD): 'March'" in capsys.readouterr().err
    assert usage_error("customers", "statement", "acme", "--csv", "--json") == 2
