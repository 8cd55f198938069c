"""The data boundary: every driver error leaves reseller.db as a ResellerError."""

from __future__ import annotations

import pytest

from reseller import customers, db, errors


async def test_a_constraint_no_domain_error_names_becomes_a_database_error(
    pool: db.Database,
) -> None:
    with pytest.raises(errors.DatabaseError, match="customers_name_check") as caught:
        await customers.create(pool, "")  # the schema's CHECK (name <> ''), not in the mapping
    assert not db.is_unavailable(caught.value)
    assert await pool.fetchval("SELECT count(*) FROM customers") == 0


async def test_a_failing_statement_becomes_a_database_error_not_unavailable(
    pool: db.Database,
) -> None:
    with (
        pytest.raises(errors.DatabaseError, match="division by zero") as caught,
        db.translate_errors(),
    ):
        await pool.fetchval("SELECT 1 / 0")
    assert not db.is_unavailable(caught.value)


async def test_a_named_constraint_becomes_its_domain_error_not_a_database_error(
    pool: db.Database,
) -> None:
    await customers.create(pool, "acme")
    with pytest.raises(errors.DuplicateName) as caught:
        await customers.create(pool, "acme")
    assert not isinstance(caught.value, errors.DatabaseError)


async def test_a_refused_connection_is_unavailable_not_a_database_error() -> None:
    with pytest.raises(errors.DatabaseUnavailable) as caught:
        await db.connect("postgresql://nobody@127.0.0.1:1/nothing")  # port 1: nothing listens
    assert db.is_unavailable(caught.value)
    assert not isinstance(caught.value, errors.DatabaseError)
