"""The operator console served on a loopback port, and a client that signs in and sends its
forms the way a browser does (cookies, the form's CSRF token, no redirects followed)."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from aiohttp.test_utils import TestServer

from reseller import config, db, operators
from reseller.audit import Actor
from reseller.console.app import create_console
from reseller.upstream import Upstreams

PASSWORD = "correct horse battery"
ADMIN, VIEWER = "ana", "vic"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Console:
    def __init__(self, url: str, session: aiohttp.ClientSession, clock: Clock, live) -> None:
        self.url, self.session, self.clock, self.live = url, session, clock, live

    async def get(self, path: str) -> tuple[int, str, aiohttp.ClientResponse]:
        async with self.session.get(self.url + path, allow_redirects=False) as r:
            return r.status, await r.text(), r

    async def post(self, path: str, **form: str) -> tuple[int, str, aiohttp.ClientResponse]:
        async with self.session.post(self.url + path, data=form, allow_redirects=False) as r:
            return r.status, await r.text(), r

    async def csrf(self, path: str = "/login") -> str:
        _, page, _ = await self.get(path)
        return re.search(r'name="csrf" value="([^"]+)"', page).group(1)

    async def sign_in(self, name: str = ADMIN, password: str = PASSWORD) -> int:
        status, _, _ = await self.post(
            "/login", csrf=await self.csrf(), name=name, password=password
        )
        return status

    async def submit(self, path: str, *, page: str = "/", **form: str) -> str:
        """Post a form with the token `page` carries, then follow the redirect: the page the
        action returns to, with its message."""
        status, text, response = await self.post(path, csrf=await self.csrf(page), **form)
        assert status == 303, (status, text)
        return (await self.get(response.headers["Location"]))[1]


@asynccontextmanager
async def serving(
    live: config.LiveConfig, pool: db.Database, upstreams: Upstreams | None = None
) -> AsyncIterator[Console]:
    """The console for `live` and `pool`, with an admin (ADMIN) and a viewer (VIEWER) account;
    the client is not signed in yet."""
    await operators.add(pool, ADMIN, "admin", PASSWORD, by=Actor("test"))
    await operators.add(pool, VIEWER, "viewer", PASSWORD, by=Actor("test"))
    clock = Clock()
    own = upstreams is None
    upstreams = upstreams or Upstreams(live.current.providers)
    app = create_console(
        live, pool=pool, upstreams=upstreams, secret=secrets.token_bytes(32), clock=clock
    )
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1
    try:
        async with aiohttp.ClientSession(cookie_jar=jar) as session:
            yield Console(str(server.make_url("")).rstrip("/"), session, clock, live)
    finally:
        await server.close()
        if own:
            await upstreams.close()
