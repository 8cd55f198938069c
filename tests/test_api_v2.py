"""API v2 over real HTTP: every action, encoding, error string and shape the README lists."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
import yarl
from support import money_holds

from reseller import catalog, customers, db, service_types
from reseller.api import openapi
from reseller.audit import Actor

ENCODINGS = ["form", "query", "json"]


async def new_customer(pool: db.Database, name: str = "acme", balance: str = "100") -> str:
    _, key = await customers.create(pool, name, balance=Decimal(balance))
    return key


async def complete(pool: db.Database, order_id: int, status: str = "Completed") -> None:
    """What the sync job will do once upstream reports the order done."""
    await pool.execute("UPDATE orders SET status = $2 WHERE id = $1", order_id, status)


# --- services, balance, encodings ---


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_services_lists_the_catalog_with_exact_types(api, pool, encoding) -> None:
    key = await new_customer(pool)
    services = await api.call(encoding, key=key, action="services")
    assert len(services) == 18
    assert services[0] == {
        "service": 1,
        "name": "Followers",
        "type": "Default",
        "category": "Instagram",
        "rate": "0.90",
        "min": "50",
        "max": "10000",
        "refill": True,
        "cancel": True,
        "dripfeed": True,
    }
    assert services[1]["rate"] == "1.23456"
    assert {s["type"] for s in services} >= {"Package", "Subscriptions", "Web Traffic"}


async def test_trailing_slash_path_answers_without_redirect(api, pool) -> None:
    key = await new_customer(pool)
    status, content_type, body = await api.raw(path="/api/v2/", key=key, action="balance")
    assert (status, content_type) == (200, "application/json")
    assert body == b'{"balance":"100.00","currency":"USD"}'


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_balance_is_a_decimal_string_with_currency(api, pool, encoding) -> None:
    key = await new_customer(pool, balance="100.84292")
    assert await api.call(encoding, key=key, action="balance") == {
        "balance": "100.84292",
        "currency": "USD",
    }


async def test_key_in_query_string_with_form_body_works(api, pool) -> None:
    key = await new_customer(pool)
    async with api.session.post(f"{api.url}/api/v2?key={key}", data={"action": "balance"}) as r:
        assert await r.json() == {"balance": "100.00", "currency": "USD"}


# --- authentication and refusals before any action ---


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"action": "balance"}, "Invalid API key"),
        ({"key": "0" * 32, "action": "balance"}, "Invalid API key"),
        ({"key": "undefined", "action": "balance"}, "Invalid API key"),
    ],
)
async def test_bad_keys_are_refused(api, pool, fields, error) -> None:
    await new_customer(pool)
    assert await api.call(**fields) == {"error": error}


async def test_invalid_and_missing_actions(api, pool) -> None:
    key = await new_customer(pool)
    assert await api.call(key=key, action="hack") == {"error": "Invalid action"}
    assert await api.call(key=key) == {"error": "Incorrect request"}


async def test_every_action_the_description_lists_is_handled(api, pool) -> None:
    key = await new_customer(pool)
    for action in openapi.ACTIONS:
        assert await api.call(key=key, action=action) != {"error": "Invalid action"}, action


async def test_suspended_customer_gets_account_suspended(api, pool) -> None:
    key = await new_customer(pool)
    await customers.set_suspended(pool, "acme", suspended=True, by=Actor("test"))
    assert await api.call(key=key, action="balance") == {"error": "Account suspended"}


async def test_rotated_key_stops_working(api, pool) -> None:
    old = await new_customer(pool)
    new = await customers.rotate_key(pool, "acme", by=Actor("test"))
    assert await api.call(key=old, action="balance") == {"error": "Invalid API key"}
    assert "balance" in await api.call(key=new, action="balance")


async def test_rate_limit_answers_429_json_past_the_customers_limit(api, pool) -> None:
    key = await new_customer(pool)
    await pool.execute("UPDATE customers SET rate_limit_per_minute = 3")
    for _ in range(3):
        assert "balance" in await api.call(key=key, action="balance")
    status, content_type, body = await api.raw(key=key, action="balance")
    assert (status, body) == (429, b'{"error":"Too many requests"}')
    assert content_type.startswith("application/json")
    other = await new_customer(pool, "other")
    assert "balance" in await api.call(key=other, action="balance")


# --- add ---


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_add_debits_the_charge_and_records_it(api, pool, encoding) -> None:
    key = await new_customer(pool)
    answer = await api.call(
        encoding,
        key=key,
        action="add",
        service=1,
        link="https://instagram.com/acme",
        quantity=1000,
        unknown_field="x",
        runs="undefined",
        interval="",
    )
    assert answer == {"order": 1}
    order = await pool.fetchrow("SELECT * FROM orders WHERE id = 1")
    assert (order["charge"], order["status"], order["dispatch_state"]) == (
        Decimal("0.90"),
        "Pending",
        "queued",
    )
    assert await api.call(key=key, action="balance") == {"balance": "99.10", "currency": "USD"}
    entry = await pool.fetchrow("SELECT kind, amount, order_id FROM ledger WHERE kind = 'charge'")
    assert tuple(entry) == ("charge", Decimal("-0.90"), 1)
    await money_holds(pool)


async def test_charge_rounds_up_to_five_decimals(api, pool) -> None:
    key = await new_customer(pool)
    await api.call(key=key, action="add", service=2, link="https://x.com/p", quantity=11)
    # 1.23456 × 11 / 1000 = 0.01358016 → 0.01359: never sold below the price.
    assert await pool.fetchval("SELECT charge FROM orders") == Decimal("0.01359")


async def test_drip_feed_charges_runs_times_quantity(api, pool) -> None:
    key = await new_customer(pool)
    answer = await api.call(
        key=key, action="add", service=1, link="https://ig.com/a", quantity=100, runs=5, interval=30
    )
    order = await pool.fetchrow("SELECT quantity, runs, run_interval, charge FROM orders")
    assert "order" in answer
    assert tuple(order) == (100, 5, 30, Decimal("0.45"))
    status = await api.call(key=key, action="status", order=answer["order"])
    assert status["remains"] == "500"


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"service": 99, "link": "https://a.com", "quantity": 100}, "Invalid service ID"),
        ({"service": "x", "link": "https://a.com", "quantity": 100}, "Invalid service ID"),
        ({"link": "https://a.com", "quantity": 100}, "Invalid service ID"),
        ({"service": 1, "link": "https://a.com", "quantity": 49}, "Quantity less than minimal 50"),
        (
            {"service": 1, "link": "https://a.com", "quantity": 10001},
            "Quantity more than maximal 10000",
        ),
        ({"service": 1, "link": "https://a.com", "quantity": "1e3"}, "Invalid quantity"),
        ({"service": 1, "link": "https://a.com", "quantity": -100}, "Invalid quantity"),
        ({"service": 1, "link": "https://a.com"}, "Invalid quantity"),
        ({"service": 1, "quantity": 100}, "Incorrect request"),
        ({"service": 1, "link": "not a link", "quantity": 100}, "Invalid link"),
        ({"service": 1, "link": "javascript:alert(1)", "quantity": 100}, "Invalid link"),
        ({"service": 1, "link": "<script>x</script>", "quantity": 100}, "Invalid link"),
        ({"service": 1, "link": "https://a.com", "quantity": 100, "runs": 3}, "Incorrect request"),
        (
            {"service": 2, "link": "https://a.com", "quantity": 100, "runs": 3, "interval": 5},
            "Incorrect request",
        ),
    ],
)
async def test_bad_add_is_refused_and_charges_nothing(api, pool, fields, error) -> None:
    key = await new_customer(pool)
    assert await api.call(key=key, action="add", **fields) == {"error": error}
    assert await pool.fetchval("SELECT count(*) FROM orders") == 0
    assert await api.call(key=key, action="balance") == {"balance": "100.00", "currency": "USD"}


async def test_insufficient_balance_places_nothing(api, pool) -> None:
    key = await new_customer(pool, balance="0.89999")
    answer = await api.call(key=key, action="add", service=1, link="https://a.com", quantity=1000)
    assert answer == {"error": "Insufficient balance"}
    assert await pool.fetchval("SELECT count(*) FROM orders") == 0
    await money_holds(pool)


async def test_200_concurrent_adds_against_a_balance_for_100_accept_exactly_100(api, pool) -> None:
    key = await new_customer(pool, balance="90")  # 100 orders of 0.90
    answers = await asyncio.gather(
        *(
            api.call(key=key, action="add", service=1, link="https://a.com/p", quantity=1000)
            for _ in range(200)
        )
    )
    accepted = [a for a in answers if "order" in a]
    assert len(accepted) == 100
    assert all(a == {"error": "Insufficient balance"} for a in answers if "order" not in a)
    assert len({a["order"] for a in accepted}) == 100
    assert await api.call(key=key, action="balance") == {"balance": "0.00", "currency": "USD"}
    assert await pool.fetchval("SELECT count(*) FROM ledger WHERE kind = 'charge'") == 100
    await money_holds(pool)


# Every service type: the fields it takes, what it stores, what it costs.
TYPE_CASES = [
    (3, {"link": "https://a.com", "quantity": 7}, 1, "5.50", {}),
    (
        4,
        {"link": "https://a.com", "quantity": 1000, "keywords": "buy\nsell"},
        1000,
        "2.00",
        {"keywords": "buy\nsell"},
    ),
    (
        5,
        {"link": "https://a.com", "comments": "nice\n\r\ngreat\nwow\n"},
        3,
        "0.03",
        {"comments": "nice\ngreat\nwow"},
    ),
    (6, {"link": "https://a.com", "comments": "a\nb"}, 1, "3.00", {"comments": "a\nb"}),
    (
        7,
        {"link": "https://a.com", "quantity": 10, "usernames": "u1\nu2"},
        10,
        "0.04",
        {"usernames": "u1\nu2"},
    ),
    (
        8,
        {"link": "https://a.com", "quantity": 10, "usernames": "u1", "hashtags": "#a\n#b"},
        10,
        "0.04",
        {"usernames": "u1", "hashtags": "#a\n#b"},
    ),
    (
        9,
        {"link": "https://a.com", "usernames": "u1\nu2\nu3"},
        3,
        "0.012",
        {"usernames": "u1\nu2\nu3"},
    ),
    (
        10,
        {"link": "https://a.com", "quantity": 10, "hashtag": "#sun"},
        10,
        "0.04",
        {"hashtag": "#sun"},
    ),
    (
        11,
        {"link": "https://a.com", "quantity": 10, "username": "star"},
        10,
        "0.04",
        {"username": "star"},
    ),
    (
        12,
        {"link": "https://a.com", "quantity": 10, "media": "https://ig.com/p/1"},
        10,
        "0.04",
        {"media": "https://ig.com/p/1"},
    ),
    (
        13,
        {"link": "https://a.com", "quantity": 10, "username": "fan"},
        10,
        "0.04",
        {"username": "fan"},
    ),
    (
        14,
        {"link": "https://a.com", "username": "fan", "comments": "hi\nyo"},
        2,
        "0.008",
        {"username": "fan", "comments": "hi\nyo"},
    ),
    (
        15,
        {"link": "https://t.me/c/1", "quantity": 10, "answer_number": 2},
        10,
        "0.01",
        {"answer_number": 2},
    ),
    (
        16,
        {"link": "https://t.me/g", "quantity": 10, "groups": "g1\ng2"},
        10,
        "0.01",
        {"groups": "g1\ng2"},
    ),
    (
        17,
        {
            "username": "acme",
            "min": 10,
            "max": 20,
            "posts": 3,
            "old_posts": 1,
            "delay": 30,
            "expiry": "31/12/2030",
        },
        80,
        "0.08",
        {
            "username": "acme",
            "min": 10,
            "max": 20,
            "posts": 3,
            "old_posts": 1,
            "delay": 30,
            "expiry": "31/12/2030",
        },
    ),
    (
        18,
        {
            "link": "https://site.com",
            "quantity": 1000,
            "country": "US",
            "device": 1,
            "type_of_traffic": 1,
            "google_keyword": "shoes",
        },
        1000,
        "0.50",
        {"country": "US", "device": 1, "type_of_traffic": 1, "google_keyword": "shoes"},
    ),
]


@pytest.mark.parametrize(
    ("service", "fields", "quantity", "charge", "stored"),
    TYPE_CASES,
    ids=[f"service{c[0]}" for c in TYPE_CASES],
)
async def test_add_every_type_stores_its_fields_and_charges_its_price(
    api, pool, service, fields, quantity, charge, stored
) -> None:
    key = await new_customer(pool)
    answer = await api.call(key=key, action="add", service=service, **fields)
    assert isinstance(answer.get("order"), int), answer
    order = await pool.fetchrow("SELECT quantity, charge, fields FROM orders")
    assert (order["quantity"], order["charge"], order["fields"]) == (
        quantity,
        Decimal(charge),
        stored,
    )
    await money_holds(pool)


@pytest.mark.parametrize(
    ("service", "fields", "quantity", "charge", "stored"),
    TYPE_CASES,
    ids=[f"service{c[0]}" for c in TYPE_CASES],
)
async def test_add_every_type_refuses_a_missing_type_field(
    api, pool, service, fields, quantity, charge, stored
) -> None:
    key = await new_customer(pool)
    required = [f for f in fields if f not in ("quantity", "old_posts", "expiry")]
    for missing in required:
        partial = {k: v for k, v in fields.items() if k != missing}
        answer = await api.call(key=key, action="add", service=service, **partial)
        assert "error" in answer, (missing, answer)
    assert await pool.fetchval("SELECT count(*) FROM orders") == 0


class RecordedFields(dict[str, str]):
    """An `add`'s fields that remember which of them were looked at."""

    def __init__(self, fields: dict[str, object]) -> None:
        super().__init__({k: str(v) for k, v in fields.items()})
        self.read: set[str] = set()

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.read.add(str(key))
        return super().__contains__(key)


COMMON_ADD_FIELDS = {"link", "quantity", "runs", "interval"}
# Web Traffic reads `referring_url` only for type_of_traffic 2: one more example for it.
REFERRED = {
    "link": "https://site.com",
    "quantity": 1000,
    "country": "US",
    "device": 1,
    "type_of_traffic": 2,
    "referring_url": "https://from.com",
}


async def test_each_type_reads_exactly_the_fields_its_row_declares(api, pool) -> None:
    """What a rule reads is what the table declares, so the OpenAPI description (and the
    fuzzing drawn from it) lists every field an `add` of any type may carry."""
    sold = await catalog.load(pool)
    examples = [(1, {"link": "https://a.com", "quantity": 100, "runs": 2, "interval": 5})]
    examples += [(c[0], c[1]) for c in TYPE_CASES] + [(18, REFERRED)]
    read: dict[str, set[str]] = {}
    for service_id, fields in examples:
        service = sold.get(service_id)
        assert service is not None
        params = RecordedFields(fields)
        service_types.validate(service, params)
        read.setdefault(service.type, set()).update(params.read - COMMON_ADD_FIELDS)
    declared = {t.name: {f.name for f in t.fields} for t in service_types.TYPES}
    assert read == declared
    assert set().union(*declared.values()) | COMMON_ADD_FIELDS <= set(openapi.FIELDS)


def test_a_field_name_is_described_one_way_whatever_the_type() -> None:
    kinds: dict[str, set[str]] = {}
    for service_type in service_types.TYPES:
        for field in service_type.fields:
            kinds.setdefault(field.name, set()).add(field.kind)
    assert {name: k for name, k in kinds.items() if len(k) > 1} == {}


@pytest.mark.parametrize(
    ("service", "fields", "error"),
    [
        (5, {"link": "https://a.com", "comments": "a\nb", "quantity": 3}, "Invalid quantity"),
        (17, {"username": "a", "min": 30, "max": 20, "posts": 1, "delay": 0}, "Invalid quantity"),
        (17, {"username": "a", "min": 10, "max": 20, "posts": 1, "delay": 7}, "Incorrect request"),
        (17, {"username": "a", "min": 10, "max": 20, "posts": 0, "delay": 0}, "Incorrect request"),
        (
            17,
            {"username": "a", "min": 10, "max": 20, "posts": 1, "delay": 0, "expiry": "2030-1-1"},
            "Incorrect request",
        ),
        (
            18,
            {
                "link": "https://s.com",
                "quantity": 1000,
                "country": "US",
                "device": 9,
                "type_of_traffic": 3,
            },
            "Incorrect request",
        ),
        (
            18,
            {
                "link": "https://s.com",
                "quantity": 1000,
                "country": "US",
                "device": 1,
                "type_of_traffic": 2,
                "referring_url": "no url",
            },
            "Invalid link",
        ),
        (15, {"link": "https://t.me/c", "quantity": 10, "answer_number": 0}, "Incorrect request"),
    ],
)
async def test_type_specific_rules(api, pool, service, fields, error) -> None:
    key = await new_customer(pool)
    assert await api.call(key=key, action="add", service=service, **fields) == {"error": error}


# --- status ---


async def place(api, key: str, service: int = 1, quantity: int = 1000) -> int:
    answer = await api.call(
        key=key, action="add", service=service, link="https://a.com/p", quantity=quantity
    )
    return answer["order"]


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_status_of_one_order(api, pool, encoding) -> None:
    key = await new_customer(pool)
    order = await place(api, key)
    assert await api.call(encoding, key=key, action="status", order=order) == {
        "charge": "0.90",
        "start_count": "0",
        "status": "Pending",
        "remains": "1000",
        "currency": "USD",
    }


async def test_status_charge_is_what_the_customer_finally_paid(api, pool) -> None:
    key = await new_customer(pool)
    order = await place(api, key)
    await pool.execute(
        "UPDATE orders SET status = 'Partial', refunded = 0.27819, remains = 309,"
        " start_count = 3572 WHERE id = $1",
        order,
    )
    assert await api.call(key=key, action="status", order=order) == {
        "charge": "0.62181",
        "start_count": "3572",
        "status": "Partial",
        "remains": "309",
        "currency": "USD",
    }


async def test_status_of_many_orders_with_per_id_errors(api, pool) -> None:
    key, other = await new_customer(pool), await new_customer(pool, "other")
    mine, theirs = await place(api, key), await place(api, other)
    answer = await api.call(key=key, action="status", orders=f"{mine}, {theirs},999,abc,{mine}")
    assert list(answer) == [str(mine), str(theirs), "999", "abc"]
    assert answer[str(mine)]["status"] == "Pending"
    for token in (str(theirs), "999", "abc"):
        assert answer[token] == {"error": "Incorrect order ID"}


async def test_another_customers_order_answers_like_an_unknown_one(api, pool) -> None:
    key, other = await new_customer(pool), await new_customer(pool, "other")
    theirs = await place(api, other)
    await complete(pool, theirs)
    for action in ("status", "refill"):
        assert (
            await api.call(key=key, action=action, order=theirs)
            == await api.call(key=key, action=action, order=987654)
            == {"error": "Incorrect order ID"}
        )
    assert await api.call(key=key, action="cancel", orders=theirs) == [
        {"order": theirs, "cancel": {"error": "Incorrect order ID"}}
    ]


async def test_more_than_100_ids_is_an_incorrect_request(api, pool) -> None:
    key = await new_customer(pool)
    ids = ",".join(str(i) for i in range(1, 102))
    for action, field in (
        ("status", "orders"),
        ("refill", "orders"),
        ("cancel", "orders"),
        ("refill_status", "refills"),
    ):
        assert await api.call(key=key, action=action, **{field: ids}) == {
            "error": "Incorrect request"
        }
    hundred = ",".join(str(i) for i in range(1, 101))
    assert len(await api.call(key=key, action="status", orders=hundred)) == 100


async def test_malformed_single_order_id(api, pool) -> None:
    key = await new_customer(pool)
    assert await api.call(key=key, action="status", order="1;DROP TABLE orders") == {
        "error": "Incorrect order ID"
    }
    assert await api.call(key=key, action="status") == {"error": "Incorrect request"}


# --- refill and refill_status ---


async def test_refill_of_a_completed_order_then_duplicate_is_refused(api, pool) -> None:
    key = await new_customer(pool)
    order = await place(api, key)
    assert await api.call(key=key, action="refill", order=order) == {
        "error": "Refill is not available for this order"
    }
    await complete(pool, order)
    refill = await api.call(key=key, action="refill", order=order)
    assert refill == {"refill": 1}
    assert await api.call(key=key, action="refill", order=order) == {
        "error": "Refill is not available for this order"
    }
    assert await api.call(key=key, action="refill_status", refill=1) == {"status": "Pending"}
    await pool.execute("UPDATE refills SET status = 'Completed'")
    second = await api.call(key=key, action="refill", order=order)
    assert isinstance(second["refill"], int)
    assert second["refill"] != 1


async def test_refill_is_refused_for_a_service_without_refill(api, pool) -> None:
    key = await new_customer(pool)
    order = await place(api, key, service=2, quantity=100)
    await complete(pool, order)
    assert await api.call(key=key, action="refill", order=order) == {
        "error": "Refill is not available for this order"
    }


async def test_bulk_refill_and_refill_status_shapes(api, pool) -> None:
    key = await new_customer(pool)
    done, pending = await place(api, key), await place(api, key)
    await complete(pool, done, "Partial")
    answer = await api.call(key=key, action="refill", orders=f"{done},{pending},777,x")
    assert answer == [
        {"order": done, "refill": 1},
        {"order": pending, "refill": {"error": "Refill is not available for this order"}},
        {"order": 777, "refill": {"error": "Incorrect order ID"}},
        {"order": "x", "refill": {"error": "Incorrect order ID"}},
    ]
    assert await api.call(key=key, action="refill_status", refills="1,3") == [
        {"refill": 1, "status": "Pending"},
        {"refill": 3, "status": {"error": "Refill not found"}},
    ]
    assert await api.call(key=key, action="refill_status", refill=3) == {
        "error": "Refill not found"
    }


async def test_another_customers_refill_is_not_found(api, pool) -> None:
    key, other = await new_customer(pool), await new_customer(pool, "other")
    order = await place(api, other)
    await complete(pool, order)
    refill = (await api.call(key=other, action="refill", order=order))["refill"]
    assert await api.call(key=key, action="refill_status", refill=refill) == {
        "error": "Refill not found"
    }


async def test_php_clients_without_action_refill_and_poll_refills(api, pool) -> None:
    key = await new_customer(pool)
    order = await place(api, key)
    await complete(pool, order)
    assert await api.call(key=key, order=order) == {"refill": 1}
    assert await api.call(key=key, refill=1) == {"status": "Pending"}
    assert await api.call(key=key, refills="1") == [{"refill": 1, "status": "Pending"}]


# --- cancel ---


async def test_cancel_records_one_request_per_order(api, pool) -> None:
    key = await new_customer(pool)
    first, second = await place(api, key), await place(api, key)
    assert await api.call(key=key, action="cancel", orders=f"{first},{second},9") == [
        {"order": first, "cancel": 1},
        {"order": second, "cancel": 1},
        {"order": 9, "cancel": {"error": "Incorrect order ID"}},
    ]
    assert await api.call(key=key, action="cancel", order=first) == [
        {"order": first, "cancel": {"error": "Cancel is not available for this order"}}
    ]
    assert await pool.fetchval("SELECT count(*) FROM cancel_requests") == 2
    # A cancel does not refund by itself: the refund follows the upstream's answer.
    assert await api.call(key=key, action="balance") == {"balance": "98.20", "currency": "USD"}


async def test_cancel_refused_without_cancel_or_when_final(api, pool) -> None:
    key = await new_customer(pool)
    no_cancel, done = await place(api, key, service=2, quantity=100), await place(api, key)
    await complete(pool, done)
    assert await api.call(key=key, action="cancel", orders=f"{no_cancel},{done}") == [
        {"order": no_cancel, "cancel": {"error": "Cancel is not available for this order"}},
        {"order": done, "cancel": {"error": "Cancel is not available for this order"}},
    ]
    assert await api.call(key=key, action="cancel") == {"error": "Incorrect request"}


# --- malformed requests ---


async def test_malformed_bodies_get_a_clear_json_error(api, pool) -> None:
    key = await new_customer(pool)
    url = api.url + "/api/v2"
    cases = [
        (
            {"data": b"{not json", "headers": {"Content-Type": "application/json"}},
            "Incorrect request",
        ),
        ({"data": b"[1,2]", "headers": {"Content-Type": "application/json"}}, "Incorrect request"),
        ({"json": {"key": key, "action": "balance", "x": {"nested": 1}}}, "Incorrect request"),
        ({"json": {"key": key, "action": True}}, "Incorrect request"),
        (
            {
                "data": b"key=" + key.encode() + b"&action=add&link=\xff\xfe",
                "headers": {"Content-Type": "application/x-www-form-urlencoded"},
            },
            "Incorrect request",
        ),
        (
            {
                "data": b"key="
                + key.encode()
                + b"&action=add&comments="
                + b"a" * (2 * 1024 * 1024),
                "headers": {"Content-Type": "application/x-www-form-urlencoded"},
            },
            "Incorrect request",
        ),
    ]
    for kwargs, error in cases:
        async with api.session.post(url, **kwargs) as response:
            assert response.status == 200
            assert response.content_type == "application/json"
            assert await response.json() == {"error": error}, kwargs


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("service", [1]),
        ("service", {"id": 1}),
        ("service", True),
        ("quantity", [100]),
        ("quantity", False),
        ("link", ["https://ig.com/a"]),
        ("link", {"url": "https://ig.com/a"}),
        ("orders", [[1]]),
        ("orders", [True]),
    ],
)
async def test_json_non_scalar_fields_are_incorrect_and_store_nothing(
    api, pool, field, value
) -> None:
    key = await new_customer(pool)
    body = {"key": key, "action": "add", "service": 1, "link": "https://ig.com/a", "quantity": 100}
    body[field] = value
    assert await api.call("json", **body) == {"error": "Incorrect request"}
    assert await pool.fetchval("SELECT count(*) FROM orders") == 0
    assert await api.call(key=key, action="balance") == {"balance": "100.00", "currency": "USD"}


async def test_json_id_lists_may_be_arrays(api, pool) -> None:
    key = await new_customer(pool)
    answer = await api.call("json", key=key, action="status", orders=[1, "2"])
    assert answer == {"1": {"error": "Incorrect order ID"}, "2": {"error": "Incorrect order ID"}}


async def test_unknown_paths_and_methods_answer_json(api) -> None:
    async with api.session.get(api.url + "/nope") as response:
        assert (response.status, await response.json()) == (404, {"error": "Not Found"})
    async with api.session.put(api.url + "/api/v2") as response:
        assert (response.status, await response.json()) == (200, {"error": "Incorrect request"})


async def test_openapi_description_is_served(api) -> None:
    async with api.session.get(api.url + "/api/v2/openapi.json") as response:
        spec = await response.json()
    assert spec["openapi"].startswith("3.")
    assert (
        "add"
        in spec["paths"]["/api/v2"]["post"]["requestBody"]["content"]["application/json"]["schema"][
            "properties"
        ]["action"]["enum"]
    )


async def test_cached_keys_follow_changes_made_anywhere(api, pool) -> None:
    key = await new_customer(pool)
    assert "balance" in await api.call(key=key, action="balance")  # now cached
    await pool.execute("UPDATE customers SET suspended = true")  # as an operator's SQL would

    async def suspended() -> bool:
        return await api.call(key=key, action="balance") == {"error": "Account suspended"}

    from support import poll_until

    await poll_until(suspended, within=2)
    await pool.execute("UPDATE customers SET suspended = false")
    new = await customers.rotate_key(pool, "acme", by=Actor("test"))

    async def old_key_refused() -> bool:
        return await api.call(key=key, action="balance") == {"error": "Invalid API key"}

    await poll_until(old_key_refused, within=2)
    assert "balance" in await api.call(key=new, action="balance")


async def test_multi_status_formats_money_exactly_as_single_status(api, pool) -> None:
    key = await new_customer(pool, balance="1000")
    charges = ["0.90000", "0.27819", "100.84292", "0.00001", "12.30000", "5.00000"]
    refunds = ["0", "0.27819", "0.84292", "0", "0.3", "5"]
    ids = []
    for charge, refunded in zip(charges, refunds, strict=True):
        order = await place(api, key)
        await pool.execute(
            "UPDATE orders SET charge = $2, refunded = $3 WHERE id = $1",
            order,
            Decimal(charge),
            Decimal(refunded),
        )
        ids.append(order)
    many = await api.call(key=key, action="status", orders=",".join(map(str, ids)))
    for order in ids:
        assert many[str(order)] == await api.call(key=key, action="status", order=order)
    assert [many[str(i)]["charge"] for i in ids] == [
        "0.90",
        "0.00",
        "100.00",
        "0.00001",
        "12.00",
        "0.00",
    ]


async def test_control_characters_in_an_id_list_are_an_incorrect_request(api, pool) -> None:
    key = await new_customer(pool)
    for ids in ("\x00", "1,\x00", "1,2\x07"):
        for action, field in (("status", "orders"), ("refill_status", "refills")):
            answer = await api.call("json", key=key, action=action, **{field: ids})
            assert answer == {"error": "Incorrect request"}


# --- links that cannot be stored as sent (issue 13) ---

BAD_LINKS = [
    "https://ig.com/%ff%fe",  # percent-encoded invalid UTF-8, as text
    "https://ig.com/\ufffd",  # what a decoder leaves of it
    "https://user:pass@ig.com/p",
    "user:pass@ig.com/p",
    "https://ig.com@evil.com/p",
    "https://ig.com:99999/p",
    "https://ig.com:0/p",
]


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("link", BAD_LINKS)
async def test_links_with_bad_bytes_credentials_or_impossible_ports_are_refused_uncharged(
    api, pool, encoding, link
) -> None:
    key = await new_customer(pool)
    answer = await api.call(encoding, key=key, action="add", service=1, link=link, quantity=100)
    assert answer == {"error": "Invalid link"}
    assert await pool.fetchval("SELECT count(*) FROM orders") == 0
    assert await api.call(key=key, action="balance") == {"balance": "100.00", "currency": "USD"}


@pytest.mark.parametrize("where", ["form", "query"])
async def test_undecodable_percent_escapes_sent_raw_are_an_invalid_link(api, pool, where) -> None:
    """`link=https://ig.com/%ff%fe` unencoded: aiohttp decodes %ff to U+FFFD before we see it."""
    key = await new_customer(pool)
    raw = f"key={key}&action=add&service=1&quantity=100&link=https://ig.com/%ff%fe"
    if where == "form":
        request = api.session.post(
            api.url + "/api/v2",
            data=raw.encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    else:
        request = api.session.get(yarl.URL(f"{api.url}/api/v2?{raw}", encoded=True))
    async with request as response:
        assert await response.json() == {"error": "Invalid link"}
    assert await pool.fetchval("SELECT count(*) FROM orders") == 0
    assert await api.call(key=key, action="balance") == {"balance": "100.00", "currency": "USD"}


@pytest.mark.parametrize(
    "link",
    [
        "https://ig.com:8080/p",
        "https://ig.com/caf%C3%A9?q=a%20b",
        "https://ig.com/café",
        "https://ig.com/@star",
        "https://ig.com/p?ref=a@b",
        "https://ig.com/100%",
        "ig.com/p",
        "@star",
    ],
)
async def test_ports_utf8_escapes_and_at_signs_outside_the_host_stay_valid_links(
    api, pool, link
) -> None:
    key = await new_customer(pool)
    answer = await api.call("json", key=key, action="add", service=1, link=link, quantity=100)
    assert await pool.fetchval("SELECT link FROM orders WHERE id = $1", answer["order"]) == link
