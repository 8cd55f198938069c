"""An invalid `add` answers the standard string a downstream panel matches on, and its request
log line says precisely which field was wrong and why, so the operator need not guess."""

from __future__ import annotations

from decimal import Decimal

import pytest
from structlog.testing import capture_logs

from reseller import customers

pytestmark = pytest.mark.usefixtures("info_logs")


@pytest.mark.parametrize(
    ("fields", "answer", "detail"),
    [
        ({"service": 15, "link": "https://t.me/c/1", "quantity": 100}, "Incorrect request",
         "answer_number: missing"),
        ({"service": 18, "link": "https://site.example", "quantity": 100, "country": "US",
          "device": 9, "type_of_traffic": 1, "google_keyword": "x"}, "Incorrect request",
         "device: 9 is not within 1-5"),
        ({"service": 17, "username": "someone", "min": 10, "max": 20, "posts": 1, "delay": 0,
          "expiry": "31/02/2027"}, "Incorrect request",
         "expiry: '31/02/2027' is not a d/m/Y date"),
        ({"service": 1, "link": "https://ig.com/p", "quantity": "many"}, "Invalid quantity",
         "quantity: not a whole number"),
        ({"service": 1, "link": "ftp://ig.com/p", "quantity": 100}, "Invalid link",
         "link: not an http(s) URL, host/path or username"),
    ],
)  # fmt: skip
async def test_an_invalid_add_logs_which_field_and_why(api, pool, fields, answer, detail) -> None:
    _, key = await customers.create(pool, "acme", balance=Decimal(100))
    with capture_logs() as logs:
        assert await api.call(key=key, action="add", **fields) == {"error": answer}
    [line] = [line for line in logs if line["event"] == "request"]
    assert (line["outcome"], line["detail"]) == (answer, detail)
    assert await pool.fetchval("SELECT count(*) FROM orders") == 0


async def test_more_than_100_ids_log_how_many(api, pool) -> None:
    _, key = await customers.create(pool, "acme")
    ids = ",".join(str(n) for n in range(1, 102))
    with capture_logs() as logs:
        assert await api.call(key=key, action="status", orders=ids) == {
            "error": "Incorrect request"
        }
    [line] = [line for line in logs if line["event"] == "request"]
    assert line["detail"] == "101 IDs, at most 100"
