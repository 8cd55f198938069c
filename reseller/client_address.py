"""Whose request it is, for the limits kept per address (API keys, console sign-ins)."""

from __future__ import annotations

from aiohttp import web


def client_address(request: web.Request, header: str | None) -> str:
    """The first entry of `header` when a trusted reverse proxy sets it (X-Real-IP,
    X-Forwarded-For); else, or when it is absent, the connection's own address. Never name a
    header the proxy does not overwrite: a client could choose its own address."""
    forwarded = request.headers.get(header, "") if header else ""
    return forwarded.split(",")[0].strip() or request.remote or "-"
