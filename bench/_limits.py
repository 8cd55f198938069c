"""The limits each figure is compared with, measured in the same run on the same core.

- `services`: a bare aiohttp handler answering the app's own bytes; what is left of the gap is
  the app's own work per request.
- `status`, `add`: the handler's SQL by asyncpg alone through a pool of the same size, made by
  `db.create_pool` as the app makes its own, at the same concurrency; the gap is HTTP plus the
  app's Python. The app answers API keys from its cache, so the limit resolves them up front
  too: what it times per request is `order_statuses_json`, or an add placed as the handler
  places it (`orders.batching`: `place_order`, or one customer's concurrent adds together).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qsl

from aiohttp import web

from bench import _load, _procs
from reseller import api_keys, catalog, customers, db, errors, service_types
from reseller.api import params as api_params
from reseller.db import Q
from reseller.orders import batching, place


@contextmanager
def bare_handler(answers: dict[str, bytes], folder: Path, name: str) -> Iterator[str]:
    """`serve_bare` in its own process on the server core, answering each key its bytes in
    `answers`; its API URL."""
    answers_file = folder / f"{name}.json"
    answers_file.write_text(json.dumps({key: body.decode() for key, body in answers.items()}))
    port = _procs.free_port()
    argv = _procs.python_argv("serve-bare", str(answers_file), f"--port={port}")
    with _procs.Server(argv, f"http://127.0.0.1:{port}/healthz", folder / f"{name}.bare.log"):
        yield f"http://127.0.0.1:{port}/api/v2"


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
            items = [(owners[key], placement) for key, placement in await _orders(pool, forms)]
        return await _load.closed_loop(call, items, settings)
    finally:
        await pool.close()


async def _orders(
    pool: db.Database, forms: list[dict[str, str]]
) -> list[tuple[str, place.Placement]]:
    """The exact placements the handler would make, computed up front (in the base currency,
    at the price list)."""
    services = await catalog.load(pool)
    owners = {
        key: await customers.by_hash(pool, api_keys.key_hash(key))
        for key in {f["key"] for f in forms}
    }
    items: list[tuple[str, place.Placement]] = []
    for form in forms:
        service, customer = services.get(int(form["service"])), owners[form["key"]]
        assert service is not None, form
        assert customer is not None, form
        order = service_types.validate(service, form)
        items.append(
            (form["key"], place.Placement(customer, service, order, Decimal(1), order.charge))
        )
    return items


Call = Callable[[tuple[int, object]], Awaitable[bool]]


def _status(pool: db.Database) -> Call:
    async def call(item: tuple[int, object]) -> bool:
        customer_id, tokens = item
        return await pool.fetchval(Q.order_statuses_json, customer_id, tokens) is not None

    return call


def _add(pool: db.Database) -> Call:
    adds = batching.GroupCommit(pool)

    async def call(item: tuple[int, object]) -> bool:
        _, placement = item
        assert isinstance(placement, place.Placement)
        try:
            await adds.place(placement)
        except errors.InsufficientBalance:
            return False
        return True

    return call
