"""Provider quality and routing end to end: the API over HTTP, real PostgreSQL, the dispatcher,
and two simulated panels — `a` delivers half of every order, `b` all of it — both candidates
of local service 1 (a first in the config)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer
from conftest import Stack, running_stack
from structlog.testing import capture_logs
from support import money_holds, poll_until
from test_cli import run

from reseller import config, metrics
from reseller.alerts import conditions
from reseller.routing import quality
from reseller.simulator import SIM, DeliveryProfile, SimConfig
from reseller.simulator import create_app as create_sim

pytestmark = pytest.mark.usefixtures("info_logs")

YAML = """
providers:
  - {{name: a, url: "{a}", key_env: SIM_TEST_KEY, timeout: 0.5, requests_per_minute: 600000}}
  - {{name: b, url: "{b}", key_env: SIM_TEST_KEY, timeout: 0.5, requests_per_minute: 600000}}
dispatch: {{retry_seconds: 0.02, scan_seconds: 0.05, max_attempts: 3, stop_grace_seconds: 0.5}}
sync: {{min_poll_seconds: 0.01}}
pricing: {{markup_percent: 50}}
services:
  - id: 1
    upstreams: [{{provider: a, service: 1}}, {{provider: b, service: 1}}]
routing: {{mode: {mode}, explore_every: 4, floors: {{min_orders: 2, delivered_share: {floor}}}}}
"""


@pytest_asyncio.fixture(loop_scope="session")
async def panel_b() -> AsyncIterator[TestServer]:
    app = create_sim(SimConfig(key="sim-key", seed=8, tick=0.05))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield server
    await server.close()


@pytest.fixture
def routed(pool, sim, panel_b, tmp_path: Path, cli_env):
    """Starts the stack in `mode` with a delivered-share floor; a delivers half of each order.
    The config is also written where the CLI finds it."""
    sim.state.config.profiles[1] = DeliveryProfile(partial_ratio=1.0, partial_delivered=0.5)
    b_url = str(panel_b.make_url("/api/v2"))

    @asynccontextmanager
    async def start(
        mode: str, *, floor: str = "0.3", b_rate: str | None = None
    ) -> AsyncIterator[Stack]:
        if b_rate is not None:
            panel_b.app[SIM].set_rate(1, b_rate)
        text = YAML.format(a=sim.url, b=b_url, mode=mode, floor=floor)
        (tmp_path / "config.yaml").write_text(text)
        async with running_stack(pool, sim, config.LiveConfig(config.parse(text))) as stack:
            yield stack

    return start


async def place(stack: Stack, count: int) -> list[int]:
    """`count` orders of 100 on service 1, each on its own link, dispatched."""
    first = await stack.pool.fetchval("SELECT coalesce(max(id), 0) FROM orders")
    ids = []
    for i in range(first + 1, first + 1 + count):
        ids.append((await stack.add(link=f"https://ig.com/p{i}"))["order"])
    await stack.settle()
    return ids


async def finish(stack: Stack) -> None:
    """Poll until every placed order is settled, then refresh the figures and routes."""

    async def settled() -> bool:
        await stack.jobs.status()
        return not await stack.pool.fetchval(
            "SELECT count(*) FROM orders WHERE dispatch_state = 'placed' AND settled_at IS NULL"
        )

    await poll_until(settled, within=10)
    await stack.jobs.routing()


async def providers_of(stack: Stack, ids: list[int]) -> list[str]:
    rows = await stack.pool.fetch("SELECT provider FROM orders WHERE id = ANY($1) ORDER BY id", ids)
    return [r["provider"] for r in rows]


async def test_quality_figures_are_computed_from_settled_orders(routed, pool, capsys) -> None:
    async with routed("fixed") as stack:
        await stack.jobs.routing()
        ids = await place(stack, 4)
        upstream = {
            r["id"]: int(r["upstream_order_id"])
            for r in await pool.fetch(
                "SELECT id, upstream_order_id FROM orders WHERE id = ANY($1)", ids
            )
        }
        stack.sim.state.force_status(upstream[ids[0]], "Completed")
        stack.sim.state.force_status(upstream[ids[1]], "Partial", remains=40)
        stack.sim.state.force_status(upstream[ids[2]], "Canceled")
        stack.sim.state.force_status(upstream[ids[3]], "In progress")

        async def three_settled() -> bool:
            await stack.jobs.status()
            settled = "SELECT count(*) FROM orders WHERE settled_at IS NOT NULL"
            return await pool.fetchval(settled) == 3

        await poll_until(three_settled, within=10)
        refill = (await stack.api.call(key=stack.key, action="refill", order=ids[0]))["refill"]
        await stack.dispatcher.scan_once()
        await stack.dispatcher.idle()
        upstream_refill = await pool.fetchval(
            "SELECT upstream_refill_id FROM refills WHERE id = $1", refill
        )
        stack.sim.state.force_refill_status(int(upstream_refill), "Completed")
        await stack.pool.execute("UPDATE refills SET last_polled_at = NULL")
        await stack.jobs.refills()
        await stack.jobs.routing()
        [a] = await quality.figures(pool)
        assert (a.provider, a.sent, a.settled) == ("a", 4, 3)
        assert (a.completed, a.partial, a.canceled) == (1, 1, 1)
        assert (a.ordered_units, a.delivered_units) == (300, 160)
        assert a.delivered_share == Decimal(160) / 300
        assert a.completion_rate == Decimal(1) / 3
        assert a.refusal_rate == 0
        assert a.uncertain_rate == 0
        assert (a.refills, a.refills_accepted, a.refills_completed) == (1, 1, 1)
        assert a.refill_completion == 1
        assert a.start_p50 is not None
        assert a.finish_p50 is not None
        code, out, _ = await run(capsys, "providers", "quality", "--service", "1", "--json")
        assert code == 0
        [row] = json.loads(out)
        assert row["delivered_share"] == "0.533"
        assert row["canceled_rate"] == "0.333"
        assert row["settled"] == 3
        exposed = (await metrics.render(pool)).decode()
        assert (
            'reseller_provider_quality{figure="delivered_share",provider="a",upstream_service="1"}'
            " 0.5333" in exposed
        )
        await money_holds(pool)


async def test_cheapest_moves_orders_to_the_provider_that_delivers(routed, pool, capsys) -> None:
    async with routed("cheapest") as stack:
        await stack.jobs.routing()  # nothing measured: a first, b explored every 4th order
        ids = await place(stack, 8)
        assert await providers_of(stack, ids) == ["a", "a", "a", "b", "a", "a", "a", "b"]
        await finish(stack)
        # Same rate; a delivers 50 %: 0.9 / 0.5 = 1.8 per 1000 delivered against b's 0.9.
        [next_order] = await place(stack, 1)
        assert await providers_of(stack, [next_order]) == ["b"]
        code, out, _ = await run(capsys, "services", "list", "--json")
        assert code == 0
        [service] = json.loads(out)
        assert service["chosen"] == "b:1"
        assert service["why"] == "cheapest: 0.90000 per 1000 delivered"
        await money_holds(pool)


async def test_the_sell_rate_follows_the_candidate_routing_sends_to(routed, pool) -> None:
    """`best` moves service 1 to b, which costs more (1.20 against a's 0.90): the service is
    priced from b from then on (1.80 at the 50 % markup), never sold below what it costs, and
    orders placed before keep what they were charged."""
    async with routed("best", b_rate="1.20") as stack:
        await stack.jobs.routing()
        ids = await place(stack, 8)  # a, and b every 4th order
        assert await rate_of_service_1(stack) == "1.35"
        await finish(stack)
        await poll_until(lambda: rate_is(stack, "1.80"), within=5)
        [later] = await place(stack, 1)
        assert await providers_of(stack, [later]) == ["b"]
        charges = dict(
            await pool.fetch("SELECT id, charge FROM orders WHERE id = ANY($1)", [*ids, later])
        )
        assert charges[later] == Decimal("0.18")
        assert {charges[i] for i in ids} == {Decimal("0.135")}
        await money_holds(pool)


async def rate_of_service_1(stack: Stack) -> str:
    services = await stack.api.call(key=stack.key, action="services")
    return next(s["rate"] for s in services if s["service"] == 1)


async def rate_is(stack: Stack, rate: str) -> bool:
    return await rate_of_service_1(stack) == rate


async def test_a_candidate_below_the_floor_is_demoted_and_comes_back(routed, pool) -> None:
    async with routed("fixed", floor="0.8") as stack:
        await stack.jobs.routing()
        ids = await place(stack, 4)
        assert set(await providers_of(stack, ids)) == {"a"}  # fixed: no exploration
        with capture_logs() as logs:
            await finish(stack)
        demoted = [e for e in logs if e["event"] == "candidate_demoted"]
        assert demoted == [
            {
                "event": "candidate_demoted",
                "log_level": "warning",
                "service": 1,
                "candidate": "a:1",
                "reason": "delivered share 0.500 below floor 0.8",
            }
        ]
        found = await conditions.current(pool, stack.live.current)
        assert [c.items for c in found if c.kind == "candidates_demoted"] == [frozenset({"1/a:1"})]
        assert await providers_of(stack, await place(stack, 1)) == ["b"]
        # The bad orders leave the window: a is no longer judged, and goes first again.
        await pool.execute(
            "UPDATE orders SET created_at = now() - interval '31 days' WHERE provider = 'a'"
        )
        with capture_logs() as logs:
            await stack.jobs.routing()
        assert [e["candidate"] for e in logs if e["event"] == "candidate_recovered"] == ["a:1"]
        found = await conditions.current(pool, stack.live.current)
        assert not [c for c in found if c.kind == "candidates_demoted"]
        assert await providers_of(stack, await place(stack, 1)) == ["a"]
        await money_holds(pool)


async def test_a_chosen_candidate_costing_more_than_paid_is_skipped(routed, pool) -> None:
    # b costs 2.00, above the 1.35 sell rate priced from a: exploring it would sell at a loss.
    async with routed("best", b_rate="2.00") as stack:
        await stack.jobs.routing()
        ids = await place(stack, 4)
        explored = await stack.order(ids[3])
        assert explored["route"] == [1, 0]  # b first …
        assert explored["provider"] == "a"  # … skipped: it costs more than was paid
        assert await providers_of(stack, ids) == ["a"] * 4
        await money_holds(pool)


async def test_a_refusal_counts_against_the_candidate_that_refused(routed, pool) -> None:
    async with routed("fixed") as stack:
        stack.sim.state.remove_service(1)  # a refuses: "Invalid service ID"
        [order] = await place(stack, 1)
        assert await providers_of(stack, [order]) == ["b"]
        await stack.jobs.routing()
        a, b = await quality.figures(pool)
        assert (a.provider, a.sent, a.refused, a.refusal_rate) == ("a", 1, 1, 1)
        assert (b.provider, b.sent, b.refused) == ("b", 1, 0)
        await money_holds(pool)
