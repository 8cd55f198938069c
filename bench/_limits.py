"""The limits each figure is compared with, measured in the same run on the same core.

- `services`: a bare aiohttp handler answering the app's own bytes; what is left of the gap is
  the app's own work per request.
- `status`, `add`: the handler's SQL by asyncpg alone through a pool of the same size, made by
  `db.create_pool` as the app makes its own, at the same concurrency; the gap is HTTP plus the
  app's Python. The app answers API keys from its cache, so the limit resolves them up front
  too: the one query per request it times is `order_statuses_json` or `place_order`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qsl

from aiohttp import web

from bench import _load
from reseller import api_keys, catalog, db, service_types
from reseller.api import params as api_params
from reseller.db import Q
from reseller.orders import links


def serve_bare(port: int, answers: Path) -> None:
    """Served like the app under test (`web.run_app`, default loop policy), doing nothing but
    answer each key the bytes the app answered it (`answers`: a JSON object, key → answer):
    the same bytes per request, from as many distinct buffers as the app sends."""
    by_key = {key: answer.encode() for key, answer in json.loads(answers.read_text()).items()}

    async def handler(request: web.Request) -> web.Response:
        form = await request.post()
        return web.Response(body=by_key[str(form["key"])], content_type="application/json")

    async def health(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/api/v2", handler)
    app.router.add_get("/healthz", health)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


async def sql_only(
    dsn: str, action: str, bodies: list[str], settings: _load.Settings
) -> _load.Measured:
    pool = await db.create_pool(dsn, min_size=settings.connections, max_size=settings.connections)
    try:
        forms = [dict(parse_qsl(line)) for line in bodies]
        owners = {
            key: await pool.fetchval(Q.customer_by_key_hash, api_keys.key_hash(key))
            for key in {f["key"] for f in forms}
        }
        if action == "status":
            call = _status(pool)
            items: list[tuple[int, object]] = [
                (owners[f["key"]], api_params.id_list(f["orders"])) for f in forms
            ]
        else:
            call = _add(pool)
            items = [(owners[key], args) for key, args in await _orders(pool, forms)]
        return await _load.closed_loop(call, items, settings)
    finally:
        await pool.close()


async def _orders(
    pool: db.Database, forms: list[dict[str, str]]
) -> list[tuple[str, tuple[object, ...]]]:
    """The exact arguments the handler would pass to `place_order`, computed up front (in the
    base currency, at the price list)."""
    services = await catalog.load(pool)
    items: list[tuple[str, tuple[object, ...]]] = []
    for form in forms:
        service = services.get(int(form["service"]))
        assert service is not None, form
        order = service_types.validate(service, form)
        args = (order.charge, service.id, order.link, order.quantity)
        link_key = links.link_key(order.link) if order.link else None
        extra = (
            order.runs,
            order.interval,
            order.fields,
            "USD",
            Decimal(1),
            order.charge,
            link_key,
            bool(order.runs) and service.dripfeed_emulated,
        )
        items.append((form["key"], (*args, *extra)))
    return items


Call = Callable[[tuple[int, object]], Awaitable[bool]]


def _status(pool: db.Database) -> Call:
    async def call(item: tuple[int, object]) -> bool:
        customer_id, tokens = item
        return await pool.fetchval(Q.order_statuses_json, customer_id, tokens) is not None

    return call


def _add(pool: db.Database) -> Call:
    async def call(item: tuple[int, object]) -> bool:
        customer_id, args = item
        assert isinstance(args, tuple)
        return await pool.fetchval(Q.place_order, customer_id, *args) is not None

    return call
