"""`reseller orders list` pages: it says when more orders match than it shows, and `--before`
fetches the next page; `--csv` and `--json` give the same rows (real CLI, real database, orders
placed through the real API)."""

from __future__ import annotations

import csv
import io
import shlex
from decimal import Decimal

import orjson
import pytest
from test_cli import run

from reseller import customers
from reseller.cli import main


async def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    code, out, _ = await run(capsys, *argv)
    return code, out.splitlines()


async def customer(pool, name: str) -> str:
    return (await customers.create(pool, name, balance=Decimal("1000")))[1]


async def place(api, key: str, count: int) -> list[int]:
    answers = [
        await api.call(key=key, action="add", service=1, link="https://ig.com/p", quantity=50)
        for _ in range(count)
    ]
    return [a["order"] for a in answers]


def shown(lines: list[str]) -> list[int]:
    return [int(line.split()[0]) for line in lines[1:] if not line.startswith("…")]


async def test_a_full_page_says_more_and_the_pasted_command_pages_to_the_end(
    api, pool, cli_env, capsys
) -> None:
    ids = await place(api, await customer(pool, "acme"), 5)
    await place(api, await customer(pool, "other"), 2)  # filtered out on every page
    pages, argv = [], ["orders", "list", "--customer", "acme", "--limit", "2"]
    while True:
        code, lines = await cli(capsys, *argv)
        assert code == 0
        pages.append(shown(lines))
        if not lines[-1].startswith("… more: "):
            break
        command = shlex.split(lines[-1].removeprefix("… more: "))
        assert command[:3] == ["reseller", "orders", "list"]
        assert command[-2:] == ["--before", str(pages[-1][-1])]  # the smallest id shown
        argv = command[1:]
    assert pages == [[ids[4], ids[3]], [ids[2], ids[1]], [ids[0]]]


async def test_default_page_of_50_says_more_only_when_a_51st_matches(
    api, pool, cli_env, capsys
) -> None:
    key = await customer(pool, "acme")
    ids = await place(api, key, 50)
    _, lines = await cli(capsys, "orders", "list")
    assert shown(lines) == ids[::-1]
    assert not lines[-1].startswith("…")
    newest = (await place(api, key, 1))[0]
    _, lines = await cli(capsys, "orders", "list")
    assert shown(lines) == [newest, *ids[:0:-1]]
    assert lines[-1] == f"… more: reseller orders list --before {ids[1]}"
    _, lines = await cli(capsys, "orders", "list", "--before", str(ids[1]))
    assert shown(lines) == [ids[0]]


@pytest.mark.parametrize("value", ["0", "-1", "x"])
def test_limit_and_before_take_only_positive_numbers(cli_env, capsys, value) -> None:
    for option in ("--limit", "--before"):
        with pytest.raises(SystemExit) as exited:
            main(["orders", "list", option, value])
        assert exited.value.code == 2


async def test_uncertain_refills_show_on_the_first_page_and_say_when_more_wait(
    api, pool, cli_env, capsys
) -> None:
    key = await customer(pool, "acme")
    ids = await place(api, key, 3)
    await pool.execute("UPDATE orders SET dispatch_state = 'uncertain'")
    await pool.executemany(
        "INSERT INTO refills (order_id, customer_id, dispatch_state)"
        " SELECT id, customer_id, 'uncertain' FROM orders WHERE id = $1",
        [(i,) for i in ids],
    )
    _, lines = await cli(capsys, "orders", "list", "--uncertain", "--limit", "2")
    kinds = [line.split()[1] for line in lines[1:] if not line.startswith("…")]
    assert kinds == ["order", "order", "refill", "refill"]
    assert lines[-2:] == [
        "… more uncertain refills than the 2 shown: raise --limit",
        f"… more: reseller orders list --uncertain --limit 2 --before {ids[1]}",
    ]
    _, lines = await cli(capsys, *shlex.split(lines[-1].removeprefix("… more: "))[1:])
    assert [line.split()[:2] for line in lines[1:]] == [[str(ids[0]), "order"]]  # no refills


# --- exports: the table's rows as CSV and JSON ---

COLUMNS = [
    "id",
    "customer",
    "service",
    "status",
    "dispatch",
    "upstream",
    "charge",
    "refunded",
    "note",
]


async def test_csv_and_json_are_the_tables_rows_with_the_next_page_on_stderr(
    api, pool, cli_env, capsys
) -> None:
    ids = await place(api, await customer(pool, "acme"), 3)
    argv = ("orders", "list", "--limit", "2")
    _, table, _ = await run(capsys, *argv)
    code, out, err = await run(capsys, *argv, "--csv")
    assert code == 0
    header, *rows = list(csv.reader(io.StringIO(out)))
    assert header == COLUMNS
    assert [[cell or "-" for cell in row] for row in rows] == [
        line.split() for line in table.splitlines()[1:-1]
    ]
    assert err == f"… more: reseller orders list --limit 2 --before {ids[1]}\n"
    assert table.splitlines()[-1] == err.strip()  # the table keeps it on its last line
    code, out, err = await run(capsys, *argv, "--json")
    assert code == 0
    row = {"customer": "acme", "service": 1, "status": "Pending", "dispatch": "queued"}
    row |= {"upstream": "-", "charge": "0.045", "refunded": "0.00", "note": None}
    assert orjson.loads(out) == [{"id": ids[2], **row}, {"id": ids[1], **row}]
    assert err == f"… more: reseller orders list --limit 2 --before {ids[1]}\n"


async def test_json_of_uncertain_lists_refills_with_their_kind_and_no_money(
    api, pool, cli_env, capsys
) -> None:
    [order_id] = await place(api, await customer(pool, "acme"), 1)
    await pool.execute("UPDATE orders SET dispatch_state = 'uncertain'")
    refill_id = await pool.fetchval(
        "INSERT INTO refills (order_id, customer_id, dispatch_state)"
        " SELECT id, customer_id, 'uncertain' FROM orders RETURNING id"
    )
    code, out, err = await run(capsys, "orders", "list", "--uncertain", "--json")
    assert (code, err) == (0, "")
    listed = orjson.loads(out)
    assert [(r["id"], r["kind"], r["charge"]) for r in listed] == [
        (order_id, "order", "0.045"),
        (refill_id, "refill", None),
    ]
    assert listed[1]["note"] == f"refill of order {order_id}: "


def test_csv_and_json_together_are_a_usage_error(cli_env) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["orders", "list", "--csv", "--json"])
    assert exited.value.code == 2
