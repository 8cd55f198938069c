"""Customers and balances against real PostgreSQL: the ledger invariant and the >= 0 check."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from reseller import api_keys, customers, db, errors
from reseller.audit import Actor


async def ledger_sum(pool: db.Database, customer_id: int) -> Decimal:
    return await pool.fetchval(
        "SELECT coalesce(sum(amount), 0) FROM ledger WHERE customer_id = $1", customer_id
    )


async def test_new_customer_key_is_stored_only_as_its_hash(pool: db.Database) -> None:
    customer, key = await customers.create(pool, "acme", balance=Decimal("12.5"))
    stored = await pool.fetchval("SELECT api_key_hash FROM customers WHERE id = $1", customer.id)
    assert stored == api_keys.key_hash(key)
    assert key.encode() not in stored
    assert len(key) == 32
    assert customer.balance == Decimal("12.5") == await ledger_sum(pool, customer.id)


async def test_customer_names_are_unique(pool: db.Database) -> None:
    await customers.create(pool, "acme")
    with pytest.raises(errors.DuplicateName):
        await customers.create(pool, "acme")


async def test_topups_and_adjustments_write_the_ledger(pool: db.Database) -> None:
    customer, _ = await customers.create(pool, "acme")
    assert await customers.add_balance(
        pool, "acme", Decimal("10.00001"), by=Actor("test", "wire")
    ) == Decimal("10.00001")
    assert await customers.add_balance(
        pool, "acme", Decimal("-0.00001"), by=Actor("test", "fee")
    ) == Decimal(10)
    kinds = await pool.fetch("SELECT kind, amount, reason FROM ledger ORDER BY id")
    assert [(r["kind"], r["amount"], r["reason"]) for r in kinds] == [
        ("topup", Decimal("10.00001"), "wire"),
        ("adjustment", Decimal("-0.00001"), "fee"),
    ]
    assert await ledger_sum(pool, customer.id) == Decimal(10)


async def test_adjustment_below_zero_is_refused_and_changes_nothing(pool: db.Database) -> None:
    await customers.create(pool, "acme", balance=Decimal(5))
    with pytest.raises(errors.InsufficientBalance):
        await customers.add_balance(pool, "acme", Decimal("-5.00001"), by=Actor("test", "oops"))
    assert (await customers.get(pool, "acme")).balance == Decimal(5)
    assert await pool.fetchval("SELECT count(*) FROM ledger") == 1


async def test_the_database_itself_refuses_a_negative_balance(pool: db.Database) -> None:
    customer, _ = await customers.create(pool, "acme")
    # The CHECK itself refuses it (through the data layer, as the domain's own error).
    with pytest.raises(errors.InsufficientBalance) as caught:
        await pool.execute("UPDATE customers SET balance = -1 WHERE id = $1", customer.id)
    assert caught.value.__cause__.constraint_name == "customers_balance_check"


async def test_concurrent_debits_never_take_a_balance_below_zero(pool: db.Database) -> None:
    customer, _ = await customers.create(pool, "acme", balance=Decimal(10))

    async def debit() -> bool:
        try:
            await customers.add_balance(pool, "acme", Decimal(-1), by=Actor("test", "race"))
        except errors.InsufficientBalance:
            return False
        return True

    results = await asyncio.gather(*(debit() for _ in range(30)))
    assert results.count(True) == 10
    assert (await customers.get(pool, "acme")).balance == 0 == await ledger_sum(pool, customer.id)


async def test_unknown_customer_is_not_found(pool: db.Database) -> None:
    for action in (
        customers.add_balance(pool, "ghost", Decimal(1), by=Actor("test", "x")),
        customers.set_suspended(pool, "ghost", suspended=True, by=Actor("test")),
        customers.rotate_key(pool, "ghost", by=Actor("test")),
    ):
        with pytest.raises(errors.NotFound):
            await action


async def test_rotating_a_key_replaces_the_stored_hash(pool: db.Database) -> None:
    _, old = await customers.create(pool, "acme")
    new = await customers.rotate_key(pool, "acme", by=Actor("test"))
    stored = await pool.fetchval("SELECT api_key_hash FROM customers WHERE name = 'acme'")
    assert new != old
    assert stored == api_keys.key_hash(new)
    assert await pool.fetchval("SELECT action FROM audit_log") == "rotate-key"
