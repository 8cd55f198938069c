"""Thousands of random and malformed requests, drawn from the served OpenAPI description:
never a 500, never a non-JSON body, never a traceback, and the money invariant holds."""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from support import money_holds

from reseller import customers
from reseller.api import openapi

pytestmark = pytest.mark.slow

NASTY = [
    "",
    "undefined",
    "0",
    "-1",
    "1e9",
    "99999999999999999999",
    "1.5",
    "NaN",
    " ",
    "\x00",
    "'; DROP TABLE orders; --",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "%00",
    "null",
    "true",
    "1,2,3",
    ",,,",
    "https://instagram.com/acme",
    "@user",
    "a\nb\nc",
    "\u202e\u0000",
    "1" * 1000,
    "🙂",
    "31/12/2030",
]
FIELD_NAMES = sorted(openapi.FIELDS)
ACTIONS = [*openapi.ACTIONS, "hack", ""]


def values(name: str) -> st.SearchStrategy[str]:
    common = st.sampled_from(NASTY) | st.text(max_size=40)
    if name in ("service", "order", "refill"):
        return st.integers(-1, 20).map(str) | common
    if name in ("quantity", "runs", "interval", "min", "max", "posts", "delay", "device"):
        return st.integers(-5, 2_000).map(str) | common
    if name in ("link", "media", "referring_url"):
        return st.sampled_from(["https://instagram.com/p/1", "t.me/group", "@star"]) | common
    if name in ("orders", "refills"):
        return st.lists(st.integers(0, 50).map(str), max_size=120).map(",".join) | common
    return common


ENCODING = st.sampled_from(["form", "query", "json"])
noise = {name: values(name) for name in FIELD_NAMES if name not in ("key", "action")}
random_requests = st.fixed_dictionaries(
    {"action": st.sampled_from(ACTIONS), "encoding": ENCODING}, optional=noise
)
# Mostly well-formed orders with a little noise, so that money really moves during the run.
plausible_adds = st.fixed_dictionaries(
    {
        "action": st.just("add"),
        "encoding": ENCODING,
        "service": st.sampled_from(["1", "2", "3"]),
        "link": st.sampled_from(["https://instagram.com/p/1", "instagram.com/acme", "@acme"]),
        "quantity": st.integers(0, 12_000).map(str),
    },
    optional={name: noise[name] for name in ("runs", "interval", "comments", "orders")},
)
requests = random_requests | plausible_adds


_KEY: dict[str, str] = {}


async def rich_customer(pool, name: str) -> str:
    """A customer with money and no practical rate limit; returns its API key."""
    _, key = await customers.create(pool, name, balance=Decimal("1000"))
    await pool.execute(
        "UPDATE customers SET rate_limit_per_minute = 1000000000 WHERE name = $1", name
    )
    return key


async def fuzz_key(pool) -> str:
    """One rich customer for the whole run, created by the first example."""
    if await pool.fetchval("SELECT count(*) FROM customers WHERE name = 'fuzz'") == 0:
        _KEY["key"] = await rich_customer(pool, "fuzz")
    return _KEY["key"]


@settings(
    max_examples=1200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)
@given(request=requests, key_choice=st.sampled_from(["valid", "valid", "valid", "wrong", "none"]))
async def test_random_requests_get_json_and_keep_the_money_invariant(
    api, pool, request, key_choice
) -> None:
    request = dict(request)
    encoding = request.pop("encoding")
    fields = dict(request)
    if key_choice == "valid":
        fields["key"] = await fuzz_key(pool)
    elif key_choice == "wrong":
        fields["key"] = "f" * 32
    status, content_type, body = await api.raw(encoding, **fields)
    assert status in (200, 429), body
    assert content_type == "application/json"
    assert b"Traceback" not in body
    answer = orjson.loads(body)
    if isinstance(answer, dict) and "error" in answer:
        assert isinstance(answer["error"], str)
        assert answer["error"] != "Internal error", fields
    await money_holds(pool)


def draw(strategy: st.SearchStrategy[dict[str, str]], count: int) -> list[dict[str, str]]:
    """The first `count` examples Hypothesis draws from `strategy`, the same on every run."""
    drawn: list[dict[str, str]] = []

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(strategy)
    def collect(example: dict[str, str]) -> None:
        drawn.append(example)

    collect()
    return drawn


async def test_the_random_requests_placed_real_orders(api, pool) -> None:
    """Guards the test above against drifting into refusals only: the requests it draws, sent
    with a valid key, place real orders: each one in the database, the money invariant kept."""
    key = await rich_customer(pool, "guard")
    accepted: list[int] = []
    for request in draw(requests, 300):
        fields = dict(request)
        encoding = fields.pop("encoding")
        status, _, body = await api.raw(encoding, key=key, **fields)
        answer = orjson.loads(body)
        if status == 200 and isinstance(answer, dict) and "order" in answer:
            accepted.append(answer["order"])
    assert len(accepted) > 20
    placed = await pool.fetch(
        "SELECT o.id FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.name = 'guard'"
    )
    assert sorted(r["id"] for r in placed) == sorted(accepted)
    await money_holds(pool)
