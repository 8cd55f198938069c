"""Hostile input: 10 000 IDs, SQL and script fragments in every field, broken encodings.
Clear errors, and nothing stored that should not be."""

from __future__ import annotations

from decimal import Decimal

import pytest

from reseller import customers
from reseller.api import openapi

FRAGMENTS = [
    "'; DROP TABLE orders; --",
    "1 OR 1=1",
    "1); DELETE FROM customers; --",
    "<script>alert(1)</script>",
    "${jndi:ldap://x}",
    "{{7*7}}",
    "\u0000",
    "..%2f..%2fetc%2fpasswd",
]


async def counts(pool) -> tuple[int, int, int, Decimal]:
    return (
        await pool.fetchval("SELECT count(*) FROM orders"),
        await pool.fetchval("SELECT count(*) FROM refills"),
        await pool.fetchval("SELECT count(*) FROM cancel_requests"),
        await pool.fetchval("SELECT sum(balance) FROM customers"),
    )


@pytest.mark.parametrize("encoding", ["form", "json"])
async def test_10000_ids_are_refused_clearly(api, pool, encoding) -> None:
    _, key = await customers.create(pool, "acme", balance=Decimal(10))
    ids = ",".join(str(i) for i in range(1, 10_001))
    for action, field in (
        ("status", "orders"),
        ("refill", "orders"),
        ("cancel", "orders"),
        ("refill_status", "refills"),
    ):
        answer = await api.call(encoding, key=key, action=action, **{field: ids})
        assert answer == {"error": "Incorrect request"}


@pytest.mark.parametrize("fragment", FRAGMENTS)
async def test_fragments_in_every_field_store_nothing(api, pool, fragment) -> None:
    _, key = await customers.create(pool, "acme", balance=Decimal(10))
    before = await counts(pool)
    for field in openapi.FIELDS:
        if field in ("key", "action"):
            continue
        for action in ("add", "status", "refill", "refill_status", "cancel"):
            fields = {"service": "1", "link": "https://a.com/x", "quantity": "100", field: fragment}
            answer = await api.call("json", key=key, action=action, **fields)
            assert isinstance(answer, dict | list), answer
            if action == "add" and field in ("service", "link", "quantity"):
                assert "error" in answer, (field, answer)
    after = await counts(pool)
    # Only adds whose three real fields were valid could place orders, each fully charged.
    placed = after[0] - before[0]
    assert after[1:3] == before[1:3]
    assert after[3] == before[3] - placed * Decimal("0.09")  # 0.90 per 1000, 100 each
    assert await pool.fetchval("SELECT count(*) FROM customers") == 1  # nothing deleted


async def test_fragments_as_the_key_are_just_wrong_keys(api, pool) -> None:
    await customers.create(pool, "acme", balance=Decimal(10))
    for fragment in FRAGMENTS:
        for encoding in ("form", "json", "query"):
            value = fragment.replace("\u0000", "") if encoding == "query" else fragment
            answer = await api.call(encoding, key=value or "x", action="balance")
            assert answer == {"error": "Invalid API key"}
