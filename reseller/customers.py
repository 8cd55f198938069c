"""Customers and their balances: the operator's side (create, suspend, rotate, top up)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from reseller import api_keys, audit, db, errors, money
from reseller.audit import Actor
from reseller.db import Q


@dataclass(frozen=True, slots=True)
class Customer:
    id: int
    name: str
    balance: Decimal
    currency: str
    suspended: bool
    rate_limit_per_minute: int | None
    created_at: datetime


async def create(
    pool: db.Database, name: str, *, balance: Decimal = Decimal(0), currency: str = "USD"
) -> tuple[Customer, str]:
    """A new customer and its API key (returned once, stored only as a hash)."""
    key = api_keys.new_key()
    async with pool.transaction() as conn:
        row = await conn.fetchrow(Q.insert_customer, name, api_keys.key_hash(key), currency)
        if balance:
            row = {**row, "balance": await _credit(conn, name, balance, "topup", "opening")}
    return Customer(**row), key


async def list_all(pool: db.Database) -> list[Customer]:
    return [Customer(**r) for r in await pool.fetch(Q.list_customers)]


async def get(pool: db.Database, name: str) -> Customer:
    row = await pool.fetchrow(Q.customer_by_name, name)
    if row is None:
        raise errors.NotFound(f"no customer named {name!r}")
    return Customer(**row)


async def set_suspended(pool: db.Database, name: str, *, suspended: bool, by: Actor) -> None:
    async with pool.transaction() as conn:
        if await conn.fetchval(Q.set_suspended, name, suspended) is None:
            raise errors.NotFound(f"no customer named {name!r}")
        await audit.record(conn, by, "suspend" if suspended else "resume", name)


async def rotate_key(pool: db.Database, name: str, *, by: Actor) -> str:
    """Replace the key; the old one stops working at once."""
    key = api_keys.new_key()
    async with pool.transaction() as conn:
        if await conn.fetchval(Q.set_api_key_hash, name, api_keys.key_hash(key)) is None:
            raise errors.NotFound(f"no customer named {name!r}")
        await audit.record(conn, by, "rotate-key", name)
    return key


async def add_balance(pool: db.Database, name: str, amount: Decimal, *, by: Actor) -> Decimal:
    """Top up (amount > 0) or adjust (amount < 0, never below zero) for `by.reason` (required:
    the ledger entry carries it); returns the new balance."""
    if not amount:
        raise ValueError("amount must not be zero")
    if not by.reason:
        raise ValueError("a top-up or adjustment needs a reason")
    kind = "topup" if amount > 0 else "adjustment"
    async with pool.transaction() as conn:
        balance = await _credit(conn, name, amount, kind, by.reason)
        await audit.record(conn, by, kind, name, {"amount": money.format_amount(amount)})
    return balance


async def _credit(conn: db.Executor, name: str, amount: Decimal, kind: str, reason: str) -> Decimal:
    balance = await conn.fetchval(Q.credit_customer, name, amount, kind, reason)
    if balance is None:
        raise errors.NotFound(f"no customer named {name!r}")
    return balance


async def by_hash(pool: db.Database, key_hash: bytes) -> Customer | None:
    """The customer an API key belongs to, by the key's hash: the lookup costs the same whether
    or not the key exists."""
    row = await pool.fetchrow(Q.customer_by_key_hash, key_hash)
    return Customer(**row) if row is not None else None
