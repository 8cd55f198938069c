"""The console's customers pages over HTTP, on the stack (real API, real PostgreSQL): a new
customer's key is shown once and works; balance moves, suspension and key rotation go through
the same functions as the CLI, audited by the operator; the statement's CSV is the CLI's."""

from __future__ import annotations

import html
import re
from decimal import Decimal
from urllib.parse import quote

from console_client import VIEWER
from support import poll_until
from test_cli import run

from reseller import api_keys, customers, money


def _key(page: str) -> str:
    assert "shown once" in page
    return re.search(r'<code id="new-key">([^<]+)</code>', page).group(1)


def _flash(page: str) -> str:
    return html.unescape(re.search(r'<p class="flash \w+" role="\w+">([^<]*)</p>', page).group(1))


async def _audit(pool) -> list[tuple[str, str, str, str | None]]:
    """What operators did through the console."""
    rows = await pool.fetch(
        "SELECT actor, action, subject, reason FROM audit_log WHERE actor LIKE 'console:%'"
        " ORDER BY id"
    )
    return [tuple(r) for r in rows]


async def test_a_new_customer_is_shown_its_working_key_once(stack, stack_console) -> None:
    console, name = stack_console, "north shop/2"  # a space and a slash, in URLs too
    await console.sign_in()
    status, page, _ = await console.post(
        "/customers", csrf=await console.csrf("/customers"), name=name, rate_limit="120"
    )
    assert status == 200
    key = _key(page)
    assert await stack.api.call(key=key, action="balance") == {
        "balance": "0.00",
        "currency": "USD",
    }
    created = await customers.get(stack.pool, name)
    assert (created.rate_limit_per_minute, created.price_group) == (120, None)
    _, listing, _ = await console.get("/customers")
    assert f'<a href="/customers/{quote(name, safe="")}">{name}</a>' in listing
    status, own, _ = await console.get(f"/customers/{quote(name, safe='')}")
    assert status == 200
    assert name in own
    assert key not in own + listing
    url = f"/customers/{quote(name, safe='')}/settings"
    refused = await console.submit(url, page="/customers", rate_limit="0", group="none")
    assert (
        _flash(refused)
        == "Rate limit: not a rate limit (1 to 1000000000 per minute, or default): '0'"
    )
    changed = await console.submit(url, page="/customers", rate_limit="default", group="none")
    assert _flash(changed) == f"{name}: rate limit default, price group none"
    assert [a[1:3] for a in await _audit(stack.pool)] == [
        ("customer-add", name),
        ("customer-set", name),
    ]
    for form, refusal in (
        ({"name": name}, f"a customer named {name!r} exists already; nothing created"),
        ({"name": "south", "currency": "usd"}, "Currency: not a 3-letter currency code: 'usd'"),
        ({"name": "south", "currency": "EUR"}, "no rate for EUR in currency_rates"),
        ({"name": "south", "rate_limit": "fast"}, "Rate limit: not a rate limit"),
        ({"name": "south", "group": "gold"}, "no price group 'gold'"),
        ({"name": " "}, "Name: must not be empty"),
    ):
        assert refusal in _flash(await console.submit("/customers", page="/customers", **form))
    assert [c.name for c in await customers.list_all(stack.pool)] == ["acme", name]
    status, page, _ = await console.get("/customers/ghost")
    assert (status, "There is no customer named “ghost”." in page) == (404, True)


async def test_top_up_and_adjustment_move_the_balance_and_bad_ones_move_nothing(
    stack, stack_console
) -> None:
    console = stack_console
    await console.sign_in()
    for amount, reason, refusal in (
        ("0", "wire", "amount must not be zero"),
        ("ten", "wire", "Amount: not a decimal amount: 'ten'"),
        ("1.000001", "wire", "Amount: more than 5 decimals: '1.000001'"),
        ("NaN", "wire", "Amount: not a decimal amount: 'NaN'"),
        ("-100.00001", "oops", "refused: acme's balance would go below zero"),
        ("5", "  ", "a top-up or adjustment needs a reason"),
    ):
        back = await console.submit("/customers/acme/balance", amount=amount, reason=reason)
        assert _flash(back) == refusal
    assert (await customers.get(stack.pool, "acme")).balance == Decimal(100)
    assert await stack.pool.fetchval("SELECT count(*) FROM ledger") == 1  # the opening one
    assert await _audit(stack.pool) == []
    back = await console.submit("/customers/acme/balance", amount="10", reason="wire 7781")
    assert _flash(back) == "acme: top-up of 10.00 USD; balance 110.00 USD"
    back = await console.submit("/customers/acme/balance", amount="-2.5", reason=" fee ")
    assert _flash(back) == "acme: adjustment of -2.50 USD; balance 107.50 USD"
    assert "107.50 USD" in back
    assert (await customers.get(stack.pool, "acme")).balance == Decimal("107.5")
    ledger = await stack.pool.fetch("SELECT kind, amount, reason FROM ledger ORDER BY id")
    assert [tuple(r) for r in ledger][1:] == [
        ("topup", Decimal(10), "wire 7781"),
        ("adjustment", Decimal("-2.5"), "fee"),
    ]
    assert await _audit(stack.pool) == [
        ("console:ana", "topup", "acme", "wire 7781"),
        ("console:ana", "adjustment", "acme", "fee"),
    ]


async def test_suspend_resume_and_a_rotated_key_through_the_api(stack, stack_console) -> None:
    console, api, old = stack_console, stack.api, stack.key
    await console.sign_in()

    def answers(key: str, expected: dict):
        async def check() -> bool:
            return await api.call(key=key, action="balance") == expected

        return check

    page = await console.submit("/customers/acme/suspend")
    assert _flash(page) == "acme: suspended"
    assert "Resume" in page
    await poll_until(answers(old, {"error": "Account suspended"}), within=2)
    assert _flash(await console.submit("/customers/acme/resume")) == "acme: active"
    await poll_until(answers(old, {"balance": "100.00", "currency": "USD"}), within=2)
    status, page, _ = await console.post("/customers/acme/rotate", csrf=await console.csrf())
    assert status == 200
    new = _key(page)
    await poll_until(answers(old, {"error": "Invalid API key"}), within=2)
    assert await api.call(key=new, action="balance") == {"balance": "100.00", "currency": "USD"}
    assert new not in (await console.get("/customers/acme"))[1]
    assert [a[:2] for a in await _audit(stack.pool)] == [
        ("console:ana", "suspend"),
        ("console:ana", "resume"),
        ("console:ana", "rotate-key"),
    ]
    status, _, _ = await console.post("/customers/ghost/rotate", csrf=await console.csrf())
    assert status == 404


async def test_the_statement_and_its_csv_are_the_clis(
    stack, stack_console, cli_env, capsys
) -> None:
    console = stack_console
    await console.sign_in()
    assert (await stack.add())["order"] == 1  # a charge
    await console.submit("/customers/acme/balance", amount="5", reason="wire, 7781")
    status, page, _ = await console.get("/customers/acme/statement")
    assert status == 200
    assert re.search(r"<td>opening</td><td></td><td>0.00</td>", page)
    closing = money.format_amount((await customers.get(stack.pool, "acme")).balance)
    assert f"<td>closing</td><td></td><td>{closing}</td>" in page
    link = re.search(r'<a href="([^"]+)" download>CSV</a>', page).group(1)
    assert link == "/customers/acme/statement.csv"
    status, body, response = await console.get(link)
    assert status == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert response.headers["Content-Disposition"].startswith("attachment;")
    _, out, _ = await run(capsys, "customers", "statement", "acme", "--csv")
    assert body == out
    assert len(body.splitlines()) == 4  # the header, the opening top-up, the charge, the wire
    _, page, _ = await console.get("/customers/acme/statement?since=2999-01-01")
    link = re.search(r'<a href="([^"]+)" download>CSV</a>', page).group(1)
    assert link == "/customers/acme/statement.csv?since=2999-01-01"
    _, future, _ = await console.get(link)
    argv = ("customers", "statement", "acme", "--from", "2999-01-01", "--csv")
    assert future == (await run(capsys, *argv))[1] == "at,entry,order,kind,amount,balance,reason\n"
    status, page, _ = await console.get(
        "/customers/acme/statement?since=2026-03-01&until=2026-02-01"
    )
    assert (status, page) == (400, "a statement's period must end after it starts")


async def test_a_viewer_sees_customers_but_no_form_to_change_them(stack, stack_console) -> None:
    console = stack_console
    await console.sign_in(VIEWER)
    _, listing, _ = await console.get("/customers")
    _, own, _ = await console.get("/customers/acme")
    assert "acme" in listing
    assert "100.00 USD" in own
    pages = listing + own
    for action in ("Create customer", "Apply", "Suspend", "Rotate key", "Save settings"):
        assert action not in pages
    assert 'method="post" action="/customers' not in pages
    status, _, _ = await console.post("/customers/acme/rotate", csrf=await console.csrf())
    assert status == 403
    stored = await stack.pool.fetchval("SELECT api_key_hash FROM customers WHERE name = 'acme'")
    assert stored == api_keys.key_hash(stack.key)
