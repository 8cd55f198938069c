"""The simulated panel's aiohttp app: `/api/v2` with latency and fault injection."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiohttp import web

from reseller.simulator import actions, faults, oddities
from reseller.simulator.config import SimConfig
from reseller.simulator.state import Simulator

SIM = web.AppKey("simulator", Simulator)
# Set on shutdown: wakes handlers that hang (timeout fault, latency) so the server stops at once.
_CLOSING = web.AppKey("simulator_closing", asyncio.Event)
MAX_BODY = 1024 * 1024


def create_app(config: SimConfig | None = None) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY)
    app[SIM] = Simulator(config)
    app[_CLOSING] = asyncio.Event()
    app.on_shutdown.append(_wake_sleepers)
    for path in ("/api/v2", "/api/v2/"):
        app.router.add_route("GET", path, endpoint)
        app.router.add_route("POST", path, endpoint)
    return app


async def _wake_sleepers(app: web.Application) -> None:
    app[_CLOSING].set()


async def endpoint(request: web.Request) -> web.StreamResponse:
    sim = request.app[SIM]
    closing = request.app[_CLOSING]
    params = await read_params(request)
    if sim.down:
        sim.record(request.method, params, fault="down")
        return faults.provider_down(request, sim.rng)
    # Recorded and planned with no await in between: the fault sequence follows arrival order.
    entry = sim.record(request.method, params)
    plan = faults.draw(sim.config.faults, sim.rng)
    entry.fault = plan.transport
    if plan.transport in faults.UNPROCESSED:
        await faults.sleep(closing, sim.config.latency)
        return faults.unprocessed(plan.transport)
    answer = actions.dispatch(sim, params)
    if params.get("action") == "status":
        answer = oddities.misanswer(sim, answer, params, plan)
    answer = faults.reshape(answer, params.get("action"), params, plan)
    body = orjson.dumps(answer)
    # Latency after processing: a client that gives up early still leaves its order behind.
    await faults.sleep(closing, sim.config.latency)
    if plan.transport is not None:
        return await faults.broken(request, plan.transport, body, closing)
    return web.Response(body=body, content_type="application/json")


async def read_params(request: web.Request) -> dict[str, str]:
    """Query string, then form or JSON body; leniently, as PHP's $_REQUEST would."""
    params = {k: v.strip() for k, v in request.query.items()}
    if request.method == "POST" and request.can_read_body:
        try:
            if request.content_type == "application/json":
                data = orjson.loads(await request.read())
                items = data.items() if isinstance(data, dict) else []
            else:
                items = (await request.post()).items()
        except (orjson.JSONDecodeError, UnicodeDecodeError, ValueError):
            items = []
        for key, value in items:
            text = _as_text(value)
            if text is not None:
                params[str(key)] = text if "\n" in text else text.strip()
    return {k: v for k, v in params.items() if v != ""}


def _as_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):  # `orders: [1, 2]` from JSON clients
        return ",".join(str(v) for v in value)
    return None  # nested objects and file uploads mean nothing to a panel
