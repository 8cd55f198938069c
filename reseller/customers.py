"""Customers and their balances: the operator's side (create, change, suspend, rotate, top up,
statements)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from reseller import api_keys, audit, db, errors, money
from reseller.audit import Actor
from reseller.catalog.customer_prices import PriceOverride
from reseller.config import Config
from reseller.config.groups import NO_GROUP, GroupConfig
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
    price_group: str | None = None  # a name in pricing.groups; None: the price list
    # Paid in the last 30 days (base currency, net of refunds) when the tiers job last looked.
    spent_30d: Decimal = Decimal(0)
    # Its own prices, by service ID (loaded for the API by `by_hash`; empty elsewhere).
    prices: tuple[PriceOverride, ...] = ()


async def create(
    pool: db.Database,
    name: str,
    *,
    balance: Decimal = Decimal(0),
    currency: str = "USD",
    rate_limit: int | None = None,
    price_group: str | None = None,
    by: Actor | None = None,
) -> tuple[Customer, str]:
    """A new customer and its API key (returned once, stored only as a hash); `rate_limit`
    (None: the config's) and `price_group` (None: the price list; the caller checks it is in
    the config) as `update` sets them; `by`: the operator who added it, for the audit trail."""
    key = api_keys.new_key()
    async with pool.transaction() as conn:
        row = await conn.fetchrow(
            Q.insert_customer, name, api_keys.key_hash(key), currency, rate_limit, price_group
        )
        if balance:
            row = {**row, "balance": await _credit(conn, name, balance, "topup", "opening")}
        if by is not None:
            detail: dict[str, Any] = {
                "currency": currency,
                "balance": money.format_amount(balance),
            }
            if rate_limit is not None:
                detail["rate_limit"] = rate_limit
            if price_group is not None:
                detail["group"] = price_group
            await audit.record(conn, by, "customer-add", name, detail)
    return Customer(**row), key


async def list_all(pool: db.Database) -> list[Customer]:
    return [Customer(**r) for r in await pool.fetch(Q.list_customers)]


async def get(pool: db.Database, name: str) -> Customer:
    row = await pool.fetchrow(Q.customer_by_name, name)
    if row is None:
        raise errors.NotFound(f"no customer named {name!r}")
    return Customer(**row)


# A customer's rate limit that is the config's api.rate_limit_per_minute (stored as NULL).
DEFAULT_RATE_LIMIT: Literal["default"] = "default"
MAX_RATE_LIMIT = 10**9  # as api.rate_limit_per_minute


def parse_rate_limit(text: str) -> int | Literal["default"]:
    """A rate limit typed by a person: requests per minute, or DEFAULT_RATE_LIMIT."""
    if text == DEFAULT_RATE_LIMIT:
        return DEFAULT_RATE_LIMIT
    if not text.isdigit() or not 1 <= int(text) <= MAX_RATE_LIMIT:
        raise ValueError(
            f"not a rate limit (1 to {MAX_RATE_LIMIT} per minute, or default): {text!r}"
        )
    return int(text)


def require_group(config: Config, group: str) -> None:
    """A price group `update` may set: one of pricing.groups, or NO_GROUP."""
    if group != NO_GROUP and group not in config.pricing.groups:
        raise errors.ResellerError(
            f"refused: no price group {group!r} in pricing.groups of the config; nothing changed"
        )


def group_terms(customer: Customer, config: Config) -> GroupConfig | None:
    """The customer's group's terms (None: no group, or one the config no longer names)."""
    return config.pricing.groups.get(customer.price_group) if customer.price_group else None


def tier_discount(customer: Customer, group: GroupConfig | None) -> Decimal:
    """The customer's spend-tier discount in percent, as the API prices it now."""
    return group.tier_discount(customer.spent_30d) if group is not None else Decimal(0)


async def update(
    pool: db.Database,
    name: str,
    *,
    by: Actor,
    rate_limit: int | Literal["default"] | None = None,
    new_name: str | None = None,
    price_group: str | None = None,
) -> Customer:
    """Change a customer's rate limit (requests per minute, or DEFAULT_RATE_LIMIT), its name
    (unique: DuplicateName; its API key keeps working) and/or its price group (a name, or
    NO_GROUP; the caller checks it is in the config). None leaves a value as it is. The audit
    entry says what changed, from what to what."""
    if rate_limit is None and new_name is None and price_group is None:
        raise ValueError("nothing to change: give --rate-limit, --name and/or --group")
    async with pool.transaction() as conn:
        old = await conn.fetchrow(Q.customer_for_update, name)
        if old is None:
            raise errors.NotFound(f"no customer named {name!r}")
        limit = old["rate_limit_per_minute"]
        if rate_limit is not None:
            limit = None if rate_limit == DEFAULT_RATE_LIMIT else rate_limit
        group = old["price_group"]
        if price_group is not None:
            group = None if price_group == NO_GROUP else price_group
        row = await conn.fetchrow(Q.update_customer, old["id"], new_name or name, limit, group)
        changed: dict[str, Any] = {}
        if row["name"] != name:
            changed["name"] = {"from": name, "to": row["name"]}
        if limit != old["rate_limit_per_minute"]:
            changed["rate_limit"] = {
                "from": old["rate_limit_per_minute"] or DEFAULT_RATE_LIMIT,
                "to": limit or DEFAULT_RATE_LIMIT,
            }
        if group != old["price_group"]:
            changed["group"] = {"from": old["price_group"] or NO_GROUP, "to": group or NO_GROUP}
        await audit.record(conn, by, "customer-set", name, changed)
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
    try:
        async with pool.transaction() as conn:
            balance = await _credit(conn, name, amount, kind, by.reason)
            await audit.record(conn, by, kind, name, {"amount": money.format_amount(amount)})
    except errors.InsufficientBalance:
        raise errors.InsufficientBalance(f"refused: {name}'s balance would go below zero") from None
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
    if row is None:
        return None
    fields = dict(row)
    services, rates, discounts = (
        fields.pop(k) or [] for k in ("price_services", "price_rates", "price_discounts")
    )
    prices = tuple(map(PriceOverride, services, rates, discounts))
    return Customer(**fields, prices=prices)


async def evaluate_spend(pool: db.Database) -> int:
    """Re-evaluate what every customer paid in the last 30 days, which its spend tier follows;
    how many figures changed. One statement: an order placed meanwhile counts next time, and
    the API prices each order by the figure it read before it (never a tier mid-order)."""
    return int(await pool.fetchval(Q.evaluate_spend))


@dataclass(frozen=True, slots=True)
class StoredPrice:
    override: PriceOverride
    reason: str | None
    created_at: datetime


async def prices(pool: db.Database, name: str) -> tuple[Customer, list[StoredPrice]]:
    """The customer and its overrides, by service ID."""
    async with pool.transaction() as conn:
        row = await conn.fetchrow(Q.customer_by_name, name)
        if row is None:
            raise errors.NotFound(f"no customer named {name!r}")
        found = await conn.fetch(Q.customer_prices, row["id"])
    return Customer(**row), [
        StoredPrice(
            PriceOverride(r["service_id"], r["rate"], r["discount_percent"]),
            r["reason"],
            r["created_at"],
        )
        for r in found
    ]


async def set_price(
    pool: db.Database, name: str, override: PriceOverride, *, by: Actor
) -> PriceOverride | None:
    """Store the customer's override for its service (replacing any), with `by.reason`;
    returns the one it replaced. The caller checks it sells at or above cost."""
    async with pool.transaction() as conn:
        customer_id = await conn.fetchval(Q.customer_id_for_update, name)
        if customer_id is None:
            raise errors.NotFound(f"no customer named {name!r}")
        old = await conn.fetchrow(Q.customer_price, customer_id, override.service_id)
        await conn.execute(
            Q.upsert_customer_price,
            customer_id,
            override.service_id,
            override.rate,
            override.discount_percent,
            by.reason,
        )
        replaced = _override(old)
        await audit.record(
            conn, by, "customer-price", name, _price_change(override.service_id, replaced, override)
        )
    return replaced


async def clear_price(pool: db.Database, name: str, service_id: int, *, by: Actor) -> PriceOverride:
    """Remove the customer's override for the service (NotFound: it has none); returns it."""
    async with pool.transaction() as conn:
        customer_id = await conn.fetchval(Q.customer_id_for_update, name)
        if customer_id is None:
            raise errors.NotFound(f"no customer named {name!r}")
        old = _override(await conn.fetchrow(Q.delete_customer_price, customer_id, service_id))
        if old is None:
            raise errors.NotFound(f"{name} has no price of its own for service {service_id}")
        await audit.record(conn, by, "customer-price", name, _price_change(service_id, old, None))
    return old


def _override(row: db.Record | None) -> PriceOverride | None:
    if row is None:
        return None
    return PriceOverride(row["service_id"], row["rate"], row["discount_percent"])


def _price_change(
    service_id: int, old: PriceOverride | None, new: PriceOverride | None
) -> dict[str, Any]:
    return {
        "service": service_id,
        "from": old.describe() if old else "none",
        "to": new.describe() if new else "none",
    }


@dataclass(frozen=True, slots=True)
class StatementLine:
    id: int  # the ledger entry's
    at: datetime
    order_id: int | None
    kind: str
    amount: Decimal
    reason: str
    balance: Decimal  # after this entry


@dataclass(frozen=True, slots=True)
class Statement:
    customer: Customer
    opening: Decimal  # the balance before the first line's period
    lines: list[StatementLine]

    @property
    def closing(self) -> Decimal:
        return self.lines[-1].balance if self.lines else self.opening


async def statement(
    pool: db.Database, name: str, *, since: datetime | None = None, until: datetime | None = None
) -> Statement:
    """Every ledger entry of `name` from `since` (included) to `until` (excluded; None: to the
    last), oldest first, each with the balance after it. Read from one snapshot: with `until`
    open the closing balance is the customer's balance (balance = Σ ledger), even while orders
    are being charged."""
    if since and until and until <= since:
        raise ValueError("a statement's period must end after it starts")
    async with pool.transaction() as conn:
        await conn.execute(Q.read_only_snapshot)  # the balance and the entries agree
        row = await conn.fetchrow(Q.customer_by_name, name)
        if row is None:
            raise errors.NotFound(f"no customer named {name!r}")
        opening = await conn.fetchval(Q.ledger_sum_before, row["id"], since)
        entries = await conn.fetch(Q.ledger_entries, row["id"], since, until)
    balance: Decimal = opening
    lines = []
    for e in entries:
        balance += e["amount"]
        lines.append(
            StatementLine(
                id=e["id"],
                at=e["created_at"],
                order_id=e["order_id"],
                kind=e["kind"],
                amount=e["amount"],
                reason=e["reason"],
                balance=balance,
            )
        )
    return Statement(Customer(**row), opening, lines)


# A statement's entries as rows, the same in every export (CSV, JSON, the console's table).
STATEMENT_COLUMNS = ("at", "entry", "order", "kind", "amount", "balance", "reason")


def statement_rows(found: Statement) -> list[tuple[Any, ...]]:
    """One row per entry, by STATEMENT_COLUMNS: money as text, None where there is nothing."""
    return [
        (
            f"{line.at:%Y-%m-%d %H:%M:%S}",
            line.id,
            line.order_id,
            line.kind,
            money.format_amount(line.amount),
            money.format_amount(line.balance),
            line.reason or None,
        )
        for line in found.lines
    ]
