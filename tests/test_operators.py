"""Operator accounts for the web console (`reseller operators`): a password is shown once or
read from stdin, kept only as an Argon2 hash, never logged or audited; a disabled operator
cannot sign in; every change is in the audit trail. Real PostgreSQL, the CLI in-process."""

from __future__ import annotations

import io
import re

import orjson
import pytest
from test_cli import run, usage_error

from reseller import operators

pytestmark = pytest.mark.usefixtures("info_logs")


def password_in(out: str) -> str:
    return re.search(r"password \(shown once, store it now\): (\S+)", out).group(1)


async def test_an_operator_added_signs_in_with_the_password_shown_once(
    cli_env, pool, capsys
) -> None:
    code, out, err = await run(capsys, "operators", "add", "ana", "--role", "admin")
    assert code == 0, err
    password = password_in(out)
    assert len(password) >= operators.MIN_PASSWORD
    stored = await pool.fetchval("SELECT password_hash FROM operators WHERE name = 'ana'")
    assert stored.startswith("$argon2id$")
    assert password not in stored
    signed_in = await operators.sign_in(pool, "ana", password)
    assert (signed_in.name, signed_in.role) == ("ana", "admin")
    assert await operators.sign_in(pool, "ana", password + "x") is None
    assert await operators.sign_in(pool, "nobody", password) is None
    _, listing, _ = await run(capsys, "operators", "list", "--json")
    assert [(o["name"], o["role"], o["state"]) for o in orjson.loads(listing)] == [
        ("ana", "admin", "active")
    ]
    assert password not in listing + err


async def test_a_password_read_from_stdin_is_never_printed_and_must_be_long_enough(
    cli_env, pool, capsys, monkeypatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    code, _, err = await run(capsys, "operators", "add", "bo", "--password-stdin")
    assert (code, err) == (2, "reseller: a password has at least 12 characters\n")
    assert await pool.fetchval("SELECT count(*) FROM operators") == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
    code, out, err = await run(capsys, "operators", "add", "bo", "--password-stdin")
    assert (code, out) == (0, "operator bo added (viewer)\n")
    assert "correct horse" not in out + err
    assert (await operators.sign_in(pool, "bo", "correct horse battery")).role == "viewer"


async def test_passwd_replaces_the_password_and_disable_stops_sign_in(
    cli_env, pool, capsys, monkeypatch
) -> None:
    _, out, _ = await run(capsys, "operators", "add", "cy")
    first = password_in(out)
    code, out, _ = await run(capsys, "operators", "passwd", "cy")
    second = password_in(out)
    assert code == 0
    assert second != first
    assert await operators.sign_in(pool, "cy", first) is None
    assert await operators.sign_in(pool, "cy", second) is not None
    code, out, _ = await run(capsys, "operators", "disable", "cy")
    assert (code, out) == (0, "operator cy disabled: it can no longer sign in\n")
    assert await operators.sign_in(pool, "cy", second) is None
    code, _, err = await run(capsys, "operators", "passwd", "nobody")
    assert (code, err) == (2, "reseller: no operator named 'nobody'\n")
    rows = await pool.fetch("SELECT action, subject, detail FROM audit_log ORDER BY id")
    assert [(r["action"], r["subject"]) for r in rows] == [
        ("operator-add", "operator cy"),
        ("operator-passwd", "operator cy"),
        ("operator-disable", "operator cy"),
    ]
    assert not any(second in str(r["detail"]) or first in str(r["detail"]) for r in rows)


async def test_an_operator_name_is_taken_once(cli_env, pool, capsys) -> None:
    assert (await run(capsys, "operators", "add", "di"))[0] == 0
    code, _, err = await run(capsys, "operators", "add", "di")
    assert (code, err) == (2, "reseller: an operator named 'di' exists already\n")
    assert usage_error("operators", "add", "no spaces") == 2
