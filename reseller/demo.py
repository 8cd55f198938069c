"""`reseller demo`: everything on one machine in one command — the embedded database, a
simulated upstream panel, the server with its dispatcher and jobs, the operator console — and a
demo customer whose key and a copy-paste `curl` are printed, with the console's demo operator
and a password new at every run. Orders progress through the real sync job."""

from __future__ import annotations

import os
import secrets
from decimal import Decimal

from aiohttp import web

from reseller import (
    config,
    customers,
    db,
    errors,
    migrations,
    money,
    operators,
    server,
    simulator,
)
from reseller.audit import Actor
from reseller.catalog import sync as catalog_sync
from reseller.db import Q

PANEL_KEY_ENV = "RESELLER_DEMO_PANEL_KEY"
CONSOLE_SECRET_ENV = "RESELLER_DEMO_CONSOLE_SECRET"  # the session cookie's key: new every run
OPERATOR = "demo"
PROVIDER = "demo-panel"
CUSTOMER = "demo"
BALANCE = Decimal(100)
DEMO = Actor("demo", "the demo's customer, made ready to order")

_CONFIG = """
providers:
  - {{name: {provider}, url: "{url}", key_env: {key_env}, requests_per_minute: 60000,
     max_concurrency: 20}}
dispatch: {{scan_seconds: 0.5}}
sync: {{status_seconds: 2, min_poll_seconds: 1, refill_seconds: 5, balance_seconds: 60,
        catalog_seconds: 600}}
pricing: {{markup_percent: 30, rounding: {{decimals: 2, mode: up}}}}
imports:
  - {{provider: {provider}, category: "*", first_id: 1}}
admin: {{enabled: true, host: {host}, port: {console_port}, secret_env: {secret_env}}}
"""


async def run(
    dsn: str,
    *,
    host: str,
    port: int,
    panel_port: int,
    console_port: int,
    panel_tick: float,
    database: str,
) -> None:
    """Until Ctrl-C/SIGTERM. `database` says where the data lives, for the banner."""
    os.environ[PANEL_KEY_ENV] = "demo-panel-key"  # the simulated panel's own key
    os.environ[CONSOLE_SECRET_ENV] = secrets.token_urlsafe(32)
    first_order_id, first_refill_id = await _first_panel_ids(dsn)
    panel = simulator.create_app(
        simulator.SimConfig(
            key="demo-panel-key",
            tick=panel_tick,
            partial_ratio=0.25,
            first_order_id=first_order_id,
            first_refill_id=first_refill_id,
        )
    )
    runner = web.AppRunner(panel, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", panel_port).start()
    except OSError as exc:
        await runner.cleanup()
        raise errors.ResellerError(f"cannot listen on port {panel_port}: {exc.strerror}") from None
    panel_url = f"http://127.0.0.1:{panel_port}/api/v2"
    settings = config.parse(
        _CONFIG.format(
            provider=PROVIDER,
            url=panel_url,
            key_env=PANEL_KEY_ENV,
            host=host,
            console_port=console_port,
            secret_env=CONSOLE_SECRET_ENV,
        )
    )

    async def ready(rt: server.Runtime) -> None:
        report = await catalog_sync.sync(rt.pool, rt.live.current, rt.upstreams)
        key = await _demo_customer(rt.pool)
        password = await _demo_operator(rt.pool)
        await rt.catalog.refresh(rt.pool)  # served before the banner says so
        print(
            _banner(
                f"http://{host}:{port}/api/v2",
                key,
                panel_url,
                report.enabled,
                database,
                console=f"http://{host}:{console_port}/",
                password=password,
            ),
            flush=True,
        )

    try:
        await server.serve(settings, dsn, host=host, port=port, jobs=True, on_ready=ready)
    finally:
        await runner.cleanup()


async def _first_panel_ids(dsn: str) -> tuple[int, int]:
    """The new panel's first order and refill IDs: past any an earlier run's panel gave.

    The panel keeps its orders in memory, so each run's panel would start again at the same ID,
    while the database keeps the earlier run's orders and allows one local order per upstream
    order: the first new order would turn uncertain. The database knows exactly which IDs are
    taken (a clock-based start could still collide); it is migrated first, as a first run's
    database is still empty (the server's own migration then finds nothing to do).
    """
    async with db.connection(dsn) as conn:
        await migrations.migrate(conn)
        last = await conn.fetchrow(Q.last_upstream_ids, PROVIDER)
    default = simulator.SimConfig()
    return (
        max(default.first_order_id, (last["order_id"] or 0) + 1),
        max(default.first_refill_id, (last["refill_id"] or 0) + 1),
    )


async def _demo_customer(pool: db.Database) -> str:
    """The demo customer with a fresh key and at least the demo balance."""
    try:
        customer = await customers.get(pool, CUSTOMER)
    except errors.NotFound:
        _, key = await customers.create(pool, CUSTOMER, balance=BALANCE)
        return key
    if customer.balance < BALANCE:
        await customers.add_balance(pool, CUSTOMER, BALANCE - customer.balance, by=DEMO)
    if customer.suspended:
        await customers.set_suspended(pool, CUSTOMER, suspended=False, by=DEMO)
    return await customers.rotate_key(pool, CUSTOMER, by=DEMO)


async def _demo_operator(pool: db.Database) -> str:
    """The console's demo operator (an admin) with a password new at this run."""
    known = {o.name: o for o in await operators.list_all(pool)}
    if OPERATOR in known:
        if known[OPERATOR].disabled_at is not None:
            raise errors.ResellerError(
                f"the demo's console operator {OPERATOR!r} was disabled: the demo leaves it so"
            )
        password = await operators.set_password(pool, OPERATOR, None, by=DEMO)
    else:
        password = (await operators.add(pool, OPERATOR, "admin", None, by=DEMO))[1]
    assert password is not None  # generated: none was given
    return password


def _banner(
    api: str,
    key: str,
    panel: str,
    services: int,
    database: str,
    *,
    console: str,
    password: str,
) -> str:
    add = (
        f"curl -s {api} -d key={key} -d action=add -d service=1 "
        "-d link=https://instagram.com/demo -d quantity=100"
    )
    return f"""
reseller demo is running
  API        {api}
  API key    {key}   (customer "{CUSTOMER}", balance at least {money.format_amount(BALANCE)} USD)
  catalog    {services} services priced from a simulated upstream panel at {panel}
  database   {database}
  console    {console}   (operator "{OPERATOR}", password {password}: new at every run)

Place an order:
  {add}
See it progress (Pending -> In progress -> Completed or Partial in about 15 s; the sync job
polls the panel every 2 s and refunds a Partial's undelivered share):
  curl -s {api} -d key={key} -d action=status -d order=<the order number>
Other actions: services, balance, refill, refill_status, cancel.  Ctrl-C stops everything.
"""
