"""`reseller report` as a table, CSV and JSON from one column list, its lines in numeric order
of service IDs (real CLI, real database, orders placed through the real API)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import orjson
from test_cli import run

from reseller import customers

COLUMNS = [
    "key",
    "currency",
    "orders",
    "revenue",
    "refunds",
    "revenue_base",
    "refunds_base",
    "discount",
    "discount_base",
    "cost",
    "margin",
    "margin_percent",
    "cost_unknown",
]


async def orders_on(api, pool, *orders: dict[str, object]) -> None:
    """One order for each set of `add` parameters (a service and what its type asks for)."""
    _, key = await customers.create(pool, "acme", balance=Decimal(1000))
    for order in orders:
        answer = await api.call(key=key, action="add", link="https://ig.com/r", **order)
        assert "order" in answer, answer


FOLLOWERS = {"service": 1, "quantity": 50}  # 0.045
LIKES = {"service": 2, "quantity": 10}  # 0.0123456, charged 0.01235
MENTIONS = {"service": 10, "quantity": 10, "hashtag": "sale"}


async def test_by_service_lists_service_2_before_service_10(api, pool, cli_env, capsys) -> None:
    await orders_on(api, pool, MENTIONS, LIKES, FOLLOWERS)
    code, out, _ = await run(capsys, "report", "--by", "service", "--json")
    assert code == 0
    keys = [line["key"] for line in orjson.loads(out)["lines"]]
    assert keys == ["1 Followers", "2 Likes no refill", "10 Mentions Hashtag", "TOTAL"]
    _, out, _ = await run(capsys, "report", "--by", "service")
    assert [line.split()[0] for line in out.splitlines()[2:]] == ["1", "2", "10", "TOTAL"]
    _, out, _ = await run(capsys, "report", "--by", "service", "--csv")
    assert [row[0] for row in csv.reader(io.StringIO(out))][1:] == keys


async def test_table_csv_and_json_share_one_column_list(api, pool, cli_env, capsys) -> None:
    await orders_on(api, pool, FOLLOWERS, LIKES)
    argv = ("report", "--by", "customer", "--from", "2000-01-01")
    _, table, _ = await run(capsys, *argv)
    code, out, _ = await run(capsys, *argv, "--csv")
    assert code == 0
    header, *rows = list(csv.reader(io.StringIO(out)))
    assert header == COLUMNS
    numbers = ["USD", "2", "0.05735", "0.00", "0.05735", "0.00", "0.00", "0.00", "0.00"]
    numbers += ["0.05735", "100.0", "0"]
    assert rows == [["acme", *numbers], ["TOTAL", *numbers]]  # one customer: it is the total
    title, head, *lines = table.splitlines()
    assert title.endswith(
        "by customer; revenue base, refunds base, discount base, cost and margin in USD"
    )
    assert head.split() == " ".join(COLUMNS).upper().replace("_", " ").split()
    assert [line.split() for line in lines] == rows
    _, out, _ = await run(capsys, *argv, "--json")
    report = orjson.loads(out)
    assert (report["from"], report["by"]) == ("2000-01-01", "customer")
    assert [list(line) for line in report["lines"]] == [COLUMNS, COLUMNS]
    assert [[str(v) for v in line.values()] for line in report["lines"]] == rows
    assert (report["lines"][0]["orders"], report["lines"][0]["cost_unknown"]) == (2, 0)


async def test_a_margin_without_revenue_is_null_in_json_and_empty_in_csv(
    api, pool, cli_env, capsys
) -> None:
    await orders_on(api, pool, FOLLOWERS)
    await pool.execute("UPDATE orders SET refunded = charge")  # as if refunded in full
    _, out, _ = await run(capsys, "report", "--json")
    assert [line["margin_percent"] for line in orjson.loads(out)["lines"]] == [None, None]
    _, out, _ = await run(capsys, "report", "--csv")
    assert [row[11] for row in csv.reader(io.StringIO(out))] == ["margin_percent", "", ""]
    _, out, _ = await run(capsys, "report")
    assert [line.split()[11] for line in out.splitlines()[2:]] == ["-", "-"]
