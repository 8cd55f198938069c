"""The upstream client against the simulated panel over HTTP: every answer variant parsed,
every failure classified as refused, not sent, or unknown."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from support import free_port

from reseller import errors, logs
from reseller.config import ProviderConfig
from reseller.upstream import ProviderClient
from reseller.upstream.pacing import Pacer


def provider(url: str, **overrides) -> ProviderConfig:
    fields = dict(name="sim", url=url, key_env="SIM_TEST_KEY", timeout=Decimal("0.5"))
    return ProviderConfig(**{**fields, **overrides})


@pytest.fixture
async def client(sim):
    upstream = ProviderClient(provider(sim.url))
    yield upstream
    await upstream.close()


async def test_services_are_parsed_into_typed_values(client) -> None:
    services = {s.id: s for s in await client.services()}
    followers = services["1"]
    assert (followers.rate, followers.min, followers.max) == (Decimal("0.90"), 50, 10000)
    assert (followers.refill, followers.cancel, followers.dripfeed) == (True, True, True)
    assert services["2"].max == 50000  # min/max as JSON numbers
    assert services["5"].type == "Package"


async def test_add_then_status_follows_the_order(sim, client) -> None:
    upstream_id = await client.add({"service": 1, "link": "https://ig.com/a", "quantity": 100})
    assert upstream_id.isdigit()
    sim.state.force_status(int(upstream_id), "Partial", remains=40)
    found = await client.statuses([upstream_id])
    status = found[upstream_id]
    assert (status.status, status.remains, status.currency) == ("Partial", 40, "USD")
    assert status.charge == Decimal("0.054")


@pytest.mark.parametrize("fault", ["string_numbers", "order_id_key"])
async def test_add_answer_variants_give_the_order_id(sim, client, fault) -> None:
    setattr(sim.state.config.faults, fault, 1.0)
    upstream_id = await client.add({"service": 1, "link": "https://ig.com/v", "quantity": 100})
    assert int(upstream_id) in sim.state.orders


async def test_status_spellings_and_odd_values_are_normalised(sim, client) -> None:
    ids = [
        await client.add({"service": 1, "link": f"https://ig.com/{i}", "quantity": 100})
        for i in range(6)
    ]
    for upstream_id, spelling in zip(
        ids,
        ["Cancelled", "canceled", "Refunded", "in_progress", "In Progress", "completed"],
        strict=True,
    ):
        sim.state.force_status(int(upstream_id), spelling)
    found = await client.statuses(ids)
    assert [found[i].status for i in ids] == [
        "Canceled",
        "Canceled",
        "Canceled",
        "In progress",
        "In progress",
        "Completed",
    ]
    sim.state.config.faults.odd_remains = 1.0
    sim.state.config.faults.string_numbers = 1.0
    odd = await client.statuses(ids[:3])
    # Kept as sent ("Unknown" is None): the settlement decides it cannot be used, never a guess.
    assert all(s.remains is None or s.remains < 0 for s in odd.values())


async def test_unknown_ids_in_multi_status_are_per_id_refusals(sim, client) -> None:
    known = await client.add({"service": 1, "link": "https://ig.com/k", "quantity": 100})
    for bare in (0.0, 1.0):
        sim.state.config.faults.bare_string_errors = bare
        found = await client.statuses([known, "999999"])
        assert found[known].status is not None
        assert isinstance(found["999999"], errors.UpstreamRefused)
        assert found["999999"].message == "Incorrect order ID"


async def test_json_error_is_a_definitive_refusal(client) -> None:
    with pytest.raises(errors.UpstreamRefused) as refused:
        await client.add({"service": 999, "link": "https://ig.com/x", "quantity": 100})
    assert refused.value.message in ("Invalid service ID", "Incorrect service ID")


@pytest.mark.parametrize(
    "fault", ["timeout", "reset", "http_500", "html", "empty", "malformed_json"]
)
async def test_faults_after_sending_are_unknown_outcomes(sim, client, fault) -> None:
    setattr(sim.state.config.faults, fault, 1.0)
    with pytest.raises(errors.UpstreamUnknown):
        await client.add({"service": 1, "link": f"https://ig.com/{fault}", "quantity": 100})
    assert sim.state.adds_for_link(f"https://ig.com/{fault}") == 1  # it did reach the panel


async def test_provider_down_is_unknown_not_a_refusal(sim, client) -> None:
    sim.state.down = True
    with pytest.raises(errors.UpstreamUnknown):
        await client.balance()


async def test_closed_port_is_not_sent() -> None:
    upstream = ProviderClient(provider(f"http://127.0.0.1:{free_port()}/api/v2"))
    try:
        with pytest.raises(errors.UpstreamNotSent):
            await upstream.add({"service": 1, "link": "https://ig.com/a", "quantity": 100})
    finally:
        await upstream.close()


async def test_missing_key_is_not_sent(sim, monkeypatch) -> None:
    monkeypatch.delenv("SIM_TEST_KEY")
    upstream = ProviderClient(provider(sim.url))
    with pytest.raises(errors.UpstreamNotSent, match="SIM_TEST_KEY is not set"):
        await upstream.balance()
    assert sim.state.requests == []


async def redirecting_server(target: str, seen: list[str]):
    async def redirect(request: web.Request) -> web.Response:
        seen.append(request.path)
        raise web.HTTPMovedPermanently(target)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", redirect)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


async def test_redirects_are_refused_and_never_followed(sim) -> None:
    seen: list[str] = []
    server = await redirecting_server(sim.url, seen)
    upstream = ProviderClient(provider(str(server.make_url("/api/v2"))))
    try:
        with pytest.raises(errors.UpstreamRefused, match="redirected"):
            await upstream.add({"service": 1, "link": "https://ig.com/r", "quantity": 100})
    finally:
        await upstream.close()
        await server.close()
    assert seen == ["/api/v2"]
    assert sim.state.requests == []  # the key never travelled to the redirect target


async def test_balance_refill_and_cancel(sim, client) -> None:
    amount, currency = await client.balance()
    assert (amount, currency) == (Decimal("1000"), "USD")
    order = await client.add({"service": 1, "link": "https://ig.com/f", "quantity": 100})
    sim.state.force_status(int(order), "Completed")
    refill = await client.refill(order)
    assert (await client.refill_statuses([refill, "424242"]))[refill] in ("Pending", "In progress")
    other = await client.add({"service": 1, "link": "https://ig.com/c", "quantity": 100})
    answer = await client.cancel([other, "424242"])
    assert answer[other] is True
    assert isinstance(answer["424242"], errors.UpstreamRefused)


async def test_keys_never_reach_the_logs(sim, capsys) -> None:
    logs.configure()
    secret = "sim-key"  # the simulator's key, passed through the environment
    upstream = ProviderClient(provider(sim.url))
    try:
        await upstream.balance()
        sim.state.config.faults.malformed_json = 1.0
        with pytest.raises(errors.UpstreamUnknown):
            await upstream.balance()
    finally:
        await upstream.close()
    out = capsys.readouterr().out
    assert '"upstream_call"' in out or "upstream_call" in out
    assert secret not in out
    assert all(secret not in str(r.params) for r in sim.state.requests)


async def test_pacer_bounds_concurrency_and_rate() -> None:
    pacer = Pacer(concurrency=2, per_minute=600)  # 10 per second, burst of 10
    in_flight = peak = 0

    async def call() -> None:
        nonlocal in_flight, peak
        async with pacer.slot():
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.001)
            in_flight -= 1

    started = time.monotonic()
    await asyncio.gather(*(call() for _ in range(15)))
    assert peak == 2
    assert time.monotonic() - started >= 0.45  # 5 calls past the burst wait for tokens
