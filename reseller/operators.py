"""Operator accounts (for the web console): names, roles, and passwords kept only as Argon2
hashes. A generated password is returned once, to be shown once; no password is ever stored,
logged or written to the audit trail.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from reseller import audit, db, errors
from reseller.db import Q

Role = Literal["admin", "viewer"]
ROLES: tuple[Role, ...] = ("admin", "viewer")  # everything; read-only
MIN_PASSWORD = 12  # characters, for one the operator chooses
_HASHER = PasswordHasher()  # argon2id, the library's recommended costs (~0.2 s a hash)


@cache
def _nobody() -> str:
    """Checked when the name is unknown, so a sign-in costs the same whether or not it exists
    (made on first use: a hash costs every CLI command that imports this its start-up)."""
    return _HASHER.hash(secrets.token_urlsafe(32))


@dataclass(frozen=True, slots=True)
class Operator:
    id: int
    name: str
    role: Role
    disabled_at: datetime | None
    created_at: datetime


async def add(
    pool: db.Database, name: str, role: Role, password: str | None, *, by: audit.Actor
) -> tuple[Operator, str | None]:
    """A new operator; with no `password`, a generated one, returned (once) with it."""
    password_hash, generated = _hashed(password)
    async with pool.transaction() as conn:
        try:
            row = await conn.fetchrow(Q.insert_operator, name, password_hash, role)
        except errors.DuplicateName:
            raise errors.ResellerError(f"an operator named {name!r} exists already") from None
        await audit.record(conn, by, "operator-add", f"operator {name}", {"role": role})
    return Operator(**row), generated


async def list_all(pool: db.Database) -> list[Operator]:
    return [Operator(**r) for r in await pool.fetch(Q.list_operators)]


async def set_password(
    pool: db.Database, name: str, password: str | None, *, by: audit.Actor
) -> str | None:
    """A new password (a generated one when None, returned once)."""
    password_hash, generated = _hashed(password)
    async with pool.transaction() as conn:
        if await conn.fetchval(Q.set_operator_password, name, password_hash) is None:
            raise errors.NotFound(f"no operator named {name!r}")
        await audit.record(conn, by, "operator-passwd", f"operator {name}")
    return generated


async def disable(pool: db.Database, name: str, *, by: audit.Actor) -> None:
    """It can no longer sign in; kept, so the audit trail's names stay whole."""
    async with pool.transaction() as conn:
        if await conn.fetchval(Q.disable_operator, name) is None:
            raise errors.NotFound(f"no operator named {name!r}")
        await audit.record(conn, by, "operator-disable", f"operator {name}")


async def sign_in(pool: db.Database, name: str, password: str) -> Operator | None:
    """The operator these credentials belong to, if it may sign in. The hash is checked
    whether or not the name exists: the answer's time tells nothing."""
    row = await pool.fetchrow(Q.operator_for_sign_in, name)
    found = row is not None and _verified(row["password_hash"], password)
    if row is None:
        _verified(_nobody(), password)
    if not found or row is None or row["disabled_at"] is not None:
        return None
    if _HASHER.check_needs_rehash(row["password_hash"]):  # the library's costs went up
        await pool.execute(Q.set_operator_password, name, _HASHER.hash(password))
    return Operator(**{k: v for k, v in row.items() if k != "password_hash"})


async def active(pool: db.Database, operator_id: int) -> Operator | None:
    """The operator, unless it was disabled (a signed-in session ends with its account)."""
    row = await pool.fetchrow(Q.operator_by_id, operator_id)
    if row is None or row["disabled_at"] is not None:
        return None
    return Operator(**row)


def _verified(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _hashed(password: str | None) -> tuple[str, str | None]:
    """The hash of `password`, or of a generated one (returned with it, to be shown once)."""
    if password is None:
        generated = secrets.token_urlsafe(18)
        return _HASHER.hash(generated), generated
    if len(password) < MIN_PASSWORD:
        raise errors.ResellerError(f"a password has at least {MIN_PASSWORD} characters")
    return _HASHER.hash(password), None
