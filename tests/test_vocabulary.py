"""One vocabulary: the enums the code spells statuses and states with are exactly what the
database's CHECK constraints allow, and the advisory-lock keys are one list of distinct keys."""

from __future__ import annotations

import re
from enum import StrEnum

import pytest

from reseller import locks
from reseller.states import DispatchState, OrderStatus, RefillStatus


async def allowed_values(pool, table: str, column: str) -> set[str]:
    """The literals of the one CHECK constraint on `table.column` alone, as the live database
    holds it (`status = ANY (ARRAY['Pending'::text, …])`)."""
    definitions = await pool.fetch(
        """
        SELECT pg_get_constraintdef(c.oid) AS definition
        FROM pg_constraint c
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
        WHERE c.contype = 'c' AND c.conrelid = $1::regclass AND a.attname = $2
          AND cardinality(c.conkey) = 1
        """,
        table,
        column,
    )
    assert len(definitions) == 1, definitions
    return {m.replace("''", "'") for m in re.findall(r"'((?:[^']|'')*)'", definitions[0][0])}


@pytest.mark.parametrize(
    ("table", "column", "enum"),
    [
        ("orders", "status", OrderStatus),
        ("orders", "dispatch_state", DispatchState),
        ("refills", "status", RefillStatus),
        ("refills", "dispatch_state", DispatchState),
        ("cancel_requests", "dispatch_state", DispatchState),
    ],
)
async def test_each_enum_is_exactly_what_the_database_allows(
    pool, table: str, column: str, enum: type[StrEnum]
) -> None:
    assert await allowed_values(pool, table, column) == {member.value for member in enum}


def test_advisory_lock_keys_are_distinct_bigints() -> None:
    keys = {name: value for name, value in vars(locks).items() if name.isupper()}
    assert len(keys) >= 4
    assert len(set(keys.values())) == len(keys), keys
    assert all(-(2**63) <= key < 2**63 for key in keys.values())
