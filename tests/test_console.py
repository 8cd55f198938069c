"""The operator console over HTTP (a real browser drives it in a later step): only signed-in
operators see anything; the session cookie is encrypted, HttpOnly and SameSite=Strict and
ends after idle or absolute time or with the account; every form needs its CSRF token;
sign-in attempts are bounded; every answer carries the security headers. Real PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import os
import re
import secrets
import signal
from collections.abc import AsyncIterator
from dataclasses import replace
from decimal import Decimal

import aiohttp
import pytest_asyncio
from console_client import PASSWORD, VIEWER, Console, serving
from support import free_port, poll_until, spawn_reseller

from reseller import config, customers, operators
from reseller.audit import Actor
from reseller.console.app import COOKIE


@pytest_asyncio.fixture(loop_scope="session")
async def console(pool) -> AsyncIterator[Console]:
    async with serving(config.LiveConfig(config.parse("")), pool) as console:
        yield console


async def test_nothing_is_shown_before_signing_in(console) -> None:
    status, _, response = await console.get("/")
    assert (status, response.headers["Location"]) == (303, "/login")
    status, page, response = await console.get("/login")
    assert status == 200
    assert "Sign in" in page
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "script-src" not in response.headers["Content-Security-Policy"]  # none at all
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Referrer-Policy"] == "no-referrer"


async def test_an_operator_signs_in_sees_the_dashboard_and_signs_out(console, pool) -> None:
    _, key = await customers.create(pool, "acme", balance=Decimal(5))
    assert await console.sign_in() == 303
    cookie = next(c for c in console.session.cookie_jar if c.key == COOKIE)
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    # The session is a Fernet token (version byte 0x80): encrypted, so neither the password nor
    # the operator's name is readable in it, even base64-decoded. (A check for "ana" in the
    # token's text failed once by chance: three letters turn up in 200 random ones.)
    token = base64.urlsafe_b64decode(cookie.value)
    assert token[0] == 0x80
    assert PASSWORD.encode() not in token
    assert b'"ana"' not in token
    status, page, _ = await console.get("/")
    assert status == 200
    assert "ana (admin)" in page
    assert re.search(r"<th scope=\"row\">30 days</th><td>0</td>", page)
    assert key not in page
    status, _, response = await console.post("/logout", csrf=await console.csrf("/"))
    assert (status, response.headers["Location"]) == (303, "/login")
    assert (await console.get("/"))[0] == 303


async def test_behind_tls_the_session_cookie_is_sent_over_https_only(pool) -> None:
    live = config.LiveConfig(config.parse("admin: {secure_cookie: true}"))
    async with serving(live, pool) as console:
        status, _, response = await console.get("/login")  # its form's token is in the session
    cookie = response.cookies[COOKIE]
    assert status == 200
    assert cookie["secure"] is True
    assert (cookie["httponly"], cookie["samesite"]) == (True, "Strict")


async def test_a_wrong_password_or_name_is_refused_the_same_way(console) -> None:
    status = await console.sign_in(password="wrong horse battery")
    assert status == 401
    assert await console.sign_in(name="nobody") == 401
    _, page, _ = await console.get("/")
    assert "Dashboard" not in page


async def test_forms_without_the_sessions_token_are_refused(console) -> None:
    await console.csrf()  # a session exists
    status, _, _ = await console.post("/login", csrf="forged", name="ana", password=PASSWORD)
    assert status == 403
    assert await console.sign_in() == 303
    status, _, _ = await console.post("/logout", csrf="forged")
    assert status == 403
    assert (await console.get("/"))[0] == 200  # still signed in


async def test_a_request_the_browser_sends_by_itself_keeps_the_sign_in_forms_token(
    console,
) -> None:
    token = await console.csrf()
    assert (await console.get("/favicon.ico"))[0] == 303  # not signed in yet
    status, _, _ = await console.post("/login", csrf=token, name="ana", password=PASSWORD)
    assert status == 303


async def test_a_viewer_sees_the_pages_but_every_change_is_refused(console, pool) -> None:
    assert await console.sign_in(VIEWER) == 303
    status, page, _ = await console.get("/")
    assert status == 200
    assert f"{VIEWER} (viewer)" in page
    status, text, _ = await console.post("/customers", csrf=await console.csrf("/"), name="eve")
    assert status == 403
    assert "read-only" in text
    assert await pool.fetchval("SELECT count(*) FROM customers WHERE name = 'eve'") == 0
    status, _, _ = await console.post("/logout", csrf=await console.csrf("/"))
    assert status == 303  # signing out is not a change


async def test_sign_in_attempts_are_bounded_per_account(console) -> None:
    statuses = [await console.sign_in(password="wrong horse battery") for _ in range(5)]
    assert statuses == [401] * 5
    assert await console.sign_in() == 429  # even the right password, for a while


async def test_behind_a_proxy_sign_ins_are_bounded_per_client_address(console) -> None:
    admin = replace(console.live.current.admin, client_address_header="X-Real-IP")
    console.live.current = replace(console.live.current, admin=admin)

    async def sign_in(name: str, password: str, address: str) -> int:
        form = {"csrf": await console.csrf(), "name": name, "password": password}
        headers = {"X-Real-IP": address}
        async with console.session.post(
            console.url + "/login", data=form, headers=headers, allow_redirects=False
        ) as r:
            return r.status

    for n in range(5):  # one address guessing at five accounts
        assert await sign_in(f"guess{n}", "wrong horse battery", "203.0.113.7") == 401
    assert await sign_in(VIEWER, PASSWORD, "203.0.113.7") == 429
    assert await sign_in(VIEWER, PASSWORD, "198.51.100.2") == 303  # another client, same proxy


async def test_a_session_ends_when_idle_too_long_or_too_old_or_disabled(console, pool) -> None:
    assert await console.sign_in() == 303
    console.clock.now += 29 * 60
    assert (await console.get("/"))[0] == 200  # seen: the idle time starts again
    console.clock.now += 31 * 60
    assert (await console.get("/"))[0] == 303  # idle past admin.idle_minutes
    settings = replace(console.live.current.admin, absolute_hours=1)
    console.live.current = replace(console.live.current, admin=settings)
    assert await console.sign_in() == 303
    for _ in range(3):
        console.clock.now += 25 * 60
        status = (await console.get("/"))[0]
    assert status == 303  # 75 minutes after signing in: over, however busy
    assert await console.sign_in() == 303
    await operators.disable(pool, "ana", by=Actor("test"))
    assert (await console.get("/"))[0] == 303


async def test_serve_runs_the_console_on_its_own_port_only_with_its_key(dsn, tmp_path) -> None:
    port, console_port, metrics_port = free_port(), free_port(), free_port()
    path = tmp_path / "config.yaml"
    path.write_text(
        f"server: {{metrics_port: {metrics_port}}}\n"
        f"admin: {{enabled: true, port: {console_port}, secret_env: CONSOLE_TEST_SECRET}}\n"
    )
    env = {**os.environ, "RESELLER_DSN": dsn, "RESELLER_CONFIG": str(path)}
    env.pop("CONSOLE_TEST_SECRET", None)
    refused = await spawn_reseller("serve", "--port", str(port), env=env, cwd=tmp_path)
    output = (await asyncio.wait_for(refused.communicate(), 30))[0].decode()
    assert refused.returncode != 0
    assert "admin.secret_env: environment variable CONSOLE_TEST_SECRET is not set" in output
    env["CONSOLE_TEST_SECRET"] = secrets.token_urlsafe(32)
    proc = await spawn_reseller("serve", "--port", str(port), env=env, cwd=tmp_path)
    try:
        async with aiohttp.ClientSession() as session:

            async def login_page() -> bool:
                async with session.get(f"http://127.0.0.1:{console_port}/login") as answer:
                    return answer.status == 200

            await poll_until(login_page, within=30)
            async with session.get(f"http://127.0.0.1:{port}/login") as answer:
                assert answer.status == 404  # not on the API's listener
    finally:
        proc.send_signal(signal.SIGTERM)
        output = (await proc.communicate())[0].decode()
    assert proc.returncode == 0, output
    assert env["CONSOLE_TEST_SECRET"] not in output
