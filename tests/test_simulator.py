"""The simulated upstream panel, over real HTTP: API v2 answers, orders progressing over
compressed time, the panel's own money, every fault mode, and the standalone process."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer
from support import free_port, stop, wait_for_http

from reseller.simulator import SIM, Faults, SimConfig, Simulator, create_app

KEY = "sim-key"
LINK = "https://instagram.com/someone"
DUPLICATE = "You have active order with this link. Please wait until order being completed."


class Panel:
    """A running simulator: its URL, a client session, and its state for assertions."""

    def __init__(self, session: aiohttp.ClientSession, url: str, sim: Simulator) -> None:
        self.session = session
        self.url = url
        self.sim = sim

    async def raw(
        self, encoding: str = "form", *, client_timeout: float | None = None, **fields: Any
    ) -> tuple[int, str, bytes]:
        fields.setdefault("key", KEY)
        options: dict[str, Any] = {"allow_redirects": False}
        if client_timeout is not None:
            options["timeout"] = aiohttp.ClientTimeout(total=client_timeout)
        text = {k: str(v) for k, v in fields.items()}
        if encoding == "form":
            request = self.session.post(self.url, data=text, **options)
        elif encoding == "query":
            request = self.session.get(self.url, params=text, **options)
        else:
            request = self.session.post(self.url, json=fields, **options)
        async with request as response:
            return response.status, response.content_type, await response.read()

    async def call(self, encoding: str = "form", **fields: Any) -> Any:
        status, content_type, body = await self.raw(encoding, **fields)
        assert (status, content_type) == (200, "application/json"), body
        return orjson.loads(body)

    async def add(self, service: int = 1, link: str = LINK, quantity: int = 1000, **more: Any):
        answer = await self.call(
            action="add", service=service, link=link, quantity=quantity, **more
        )
        assert set(answer) == {"order"}, answer
        return answer["order"]

    async def status(self, order: int) -> dict[str, Any]:
        return await self.call(action="status", order=order)

    async def balance(self) -> Decimal:
        answer = await self.call(action="balance")
        assert answer["currency"] == "USD"
        return Decimal(answer["balance"])


StartPanel = Callable[..., Awaitable[Panel]]


@pytest_asyncio.fixture(loop_scope="session")
async def start_panel() -> AsyncIterator[StartPanel]:
    servers: list[TestServer] = []
    async with aiohttp.ClientSession() as session:

        async def start(**config: Any) -> Panel:
            app = create_app(SimConfig(**{"seed": 7, "tick": 10.0, **config}))
            server = TestServer(app, host="127.0.0.1")
            await server.start_server()
            servers.append(server)
            return Panel(session, str(server.make_url("/api/v2")), app[SIM])

        yield start
        for server in servers:
            await server.close()


@pytest_asyncio.fixture(loop_scope="session")
async def panel(start_panel: StartPanel) -> Panel:
    """Ticks of 10 s: nothing moves unless a test calls `sim.skip()`."""
    return await start_panel()


# --- the API ---


async def test_services_lists_every_kind_of_service_as_real_panels_shape_them(panel: Panel):
    services = await panel.call(action="services")
    assert len(services) >= 10
    types = {s["type"] for s in services}
    assert {"Default", "Package", "Custom Comments", "Mentions with Hashtags"} <= types
    assert {"Subscriptions", "Poll", "Web Traffic"} <= types
    for s in services:
        assert type(s["service"]) is int
        assert isinstance(s["rate"], str)
        assert Decimal(s["rate"]) > 0
        assert type(s["refill"]) is bool
        assert type(s["cancel"]) is bool
        assert int(s["min"]) <= int(s["max"])
    assert services[0]["rate"] == "0.90"
    # min/max come as strings from some panels and numbers from others: both are served.
    assert {type(s["min"]) for s in services} == {str, int}
    assert any(s["refill"] and s["cancel"] and s["dripfeed"] for s in services)
    assert any(not s["refill"] and not s["cancel"] for s in services)


async def test_requests_are_understood_as_form_json_or_query_string(panel: Panel):
    expected = {"balance": "1000.00", "currency": "USD"}
    for encoding in ("form", "json", "query"):
        assert await panel.call(encoding, action="balance") == expected
    _status, _, body = await panel.raw(action="balance")
    assert orjson.loads(body) == expected
    answer = await panel.call("json", action="add", service=1, link=LINK, quantity=100)
    assert answer == {"order": 10001}


async def test_a_wrong_key_or_action_is_refused_with_an_error_and_http_200(panel: Panel):
    assert await panel.call(key="wrong", action="balance") == {"error": "Invalid API key"}
    assert await panel.call(key="", action="add", service=1, link=LINK, quantity=100) == {
        "error": "Invalid API key"
    }
    assert await panel.call(action="fly") == {"error": "Invalid action"}
    assert await panel.call() == {"error": "Incorrect request"}
    assert panel.sim.orders == {}


async def test_add_charges_the_panel_balance_by_type_and_numbers_orders_upwards(panel: Panel):
    assert await panel.add(1, quantity=1000) == 10001  # 0.90 per 1000
    assert await panel.add(2, quantity=100) == 10002  # 0.25 per 1000
    # Drip-feed: quantity per run, charged for every run.
    assert await panel.add(1, quantity=100, runs=5, interval=10) == 10003
    # Package: one price per package, whatever the quantity.
    answer = await panel.call(action="add", service=5, link=LINK)
    assert answer == {"order": 10004}
    # Custom Comments: one unit per comment line.
    comments = "\n".join(f"nice {i}" for i in range(10))
    assert await panel.call(action="add", service=6, link=LINK, comments=comments) == {
        "order": 10005
    }
    charges = [panel.sim.orders[i].charge for i in range(10001, 10006)]
    assert charges == [Decimal(x) for x in ("0.9", "0.025", "0.45", "5.50", "0.08")]
    assert panel.sim.orders[10003].quantity == 500
    assert panel.sim.orders[10005].quantity == 10
    assert await panel.balance() == Decimal(1000) - sum(charges)


async def test_add_refusals_name_the_problem_and_charge_nothing(start_panel: StartPanel):
    panel = await start_panel(balance=Decimal("1.00"))
    refusals = [
        ({"service": "abc"}, "Incorrect service ID"),
        ({"service": 999}, "Invalid service ID"),
        ({"quantity": 10}, "Quantity less than minimal 50"),
        ({"quantity": 20000}, "Quantity more than maximal 10000"),
        ({"link": "not a link"}, "Invalid link"),
        ({"link": ""}, "Invalid link"),
        ({"quantity": "lots"}, "Invalid quantity"),
        ({"service": 2, "runs": 3, "interval": 5}, "Drip-feed is not available for this service"),
        ({"quantity": 2000}, "Not enough funds on balance"),  # 1.80 > 1.00
        ({"service": 7, "usernames": "a\nb"}, "Incorrect request"),  # hashtags missing
    ]
    for fields, error in refusals:
        request = {"action": "add", "service": 1, "link": LINK, "quantity": 100, **fields}
        assert await panel.call(**request) == {"error": error}, fields
    assert panel.sim.orders == {}
    assert await panel.balance() == Decimal("1.00")


async def test_an_order_progresses_pending_in_progress_completed_tick_by_tick(panel: Panel):
    order = await panel.add(quantity=900)
    assert await panel.status(order) == {
        "charge": "0.81",
        "start_count": "0",
        "status": "Pending",
        "remains": "900",
        "currency": "USD",
    }
    seen = []
    for _ in range(4):
        panel.sim.skip(10)
        answer = await panel.status(order)
        seen.append((answer["status"], answer["remains"]))
        assert int(answer["start_count"]) > 0
    assert seen == [
        ("In progress", "600"),
        ("In progress", "300"),
        ("Completed", "0"),
        ("Completed", "0"),
    ]
    assert (await panel.status(order))["charge"] == "0.81"
    assert await panel.balance() == Decimal("999.19")


async def test_orders_complete_on_the_real_clock_with_a_short_tick(start_panel: StartPanel):
    panel = await start_panel(tick=0.02)
    order = await panel.add()
    await asyncio.sleep(0.1)
    assert (await panel.status(order))["status"] == "Completed"


async def test_a_partial_outcome_reduces_the_charge_and_refunds_the_rest(start_panel: StartPanel):
    panel = await start_panel(partial_ratio=1.0)
    order = await panel.add(quantity=1000)
    panel.sim.skip(30)
    answer = await panel.status(order)
    remains = int(answer["remains"])
    assert answer["status"] == "Partial"
    assert 0 < remains < 1000
    refund = (Decimal("0.90") * remains / 1000).quantize(Decimal("0.00001"), "ROUND_DOWN")
    assert Decimal(answer["charge"]) == Decimal("0.90") - refund
    assert await panel.balance() == Decimal(1000) - Decimal(answer["charge"])


async def test_a_canceled_outcome_charges_nothing_and_refunds_in_full(start_panel: StartPanel):
    panel = await start_panel(cancel_ratio=1.0)
    order = await panel.add(quantity=1000)
    assert await panel.balance() == Decimal("999.10")
    panel.sim.skip(30)
    # The refund lands when the panel notices, even if nobody asks for the order's status.
    assert await panel.balance() == Decimal(1000)
    answer = await panel.status(order)
    assert (answer["status"], answer["charge"], answer["remains"]) == ("Canceled", "0.00", "1000")


async def test_outcomes_repeat_for_the_same_seed(start_panel: StartPanel):
    runs = []
    for _ in range(2):
        panel = await start_panel(seed=42, partial_ratio=0.3, cancel_ratio=0.3)
        for i in range(20):
            await panel.add(link=f"{LINK}/{i}", quantity=100)
        panel.sim.skip(30)
        answer = await panel.call(action="status", orders=",".join(map(str, range(10001, 10021))))
        runs.append([(a["status"], a["remains"]) for a in answer.values()])
    assert runs[0] == runs[1]
    assert {s for s, _ in runs[0]} == {"Completed", "Partial", "Canceled"}


async def test_multi_status_answers_each_id_and_unknown_ones_with_an_error(panel: Panel):
    first, second = await panel.add(), await panel.add(2, quantity=100)
    answer = await panel.call(action="status", orders=f"{first}, {second},5,abc")
    assert list(answer) == [str(first), str(second), "5", "abc"]
    assert answer[str(first)]["status"] == "Pending"
    assert answer[str(second)]["charge"] == "0.025"
    assert answer["5"] == answer["abc"] == {"error": "Incorrect order ID"}
    assert await panel.status(5) == {"error": "Incorrect order ID"}
    too_many = ",".join(str(i) for i in range(1, 102))
    assert await panel.call(action="status", orders=too_many) == {"error": "Incorrect request"}


async def test_force_status_drives_outcomes_and_settles_the_money_once(panel: Panel):
    order = await panel.add(quantity=1000)
    panel.sim.force_status(order, "Partial", remains=250)
    panel.sim.force_status(order, "Partial", remains=250)
    answer = await panel.status(order)
    assert int(answer.pop("start_count")) > 0
    assert answer == {"charge": "0.675", "status": "Partial", "remains": "250", "currency": "USD"}
    assert await panel.balance() == Decimal("999.325")
    panel.sim.skip(100)  # a forced status stays put
    panel.sim.force_status(order, "Refunded")
    answer = await panel.status(order)
    assert (answer["status"], answer["charge"]) == ("Refunded", "0.00")
    assert await panel.balance() == Decimal(1000)


async def test_refills_progress_to_completed_and_unknown_ones_are_not_found(panel: Panel):
    order, no_refill = await panel.add(1), await panel.add(2, quantity=100)
    assert await panel.call(action="refill", order=order) == {
        "error": "Refill is not available for this order"  # not delivered yet
    }
    panel.sim.skip(30)
    assert await panel.call(action="refill", order=order) == {"refill": 501}
    assert await panel.call(action="refill", orders=f"{order},{no_refill},7") == [
        {"order": order, "refill": 502},
        {"order": no_refill, "refill": {"error": "Refill is not available for this order"}},
        {"order": 7, "refill": {"error": "Incorrect order ID"}},
    ]
    assert await panel.call(action="refill_status", refill=501) == {"status": "Pending"}
    panel.sim.skip(10)
    assert await panel.call(action="refill_status", refill=501) == {"status": "In progress"}
    panel.sim.skip(10)
    assert await panel.call(action="refill_status", refills="501,502,9") == [
        {"refill": 501, "status": "Completed"},
        {"refill": 502, "status": "Completed"},
        {"refill": 9, "status": {"error": "Refill not found"}},
    ]
    assert await panel.call(action="refill_status", refill=9) == {"error": "Refill not found"}
    # Old PHP clients send refill calls without an action.
    assert await panel.call(order=order) == {"refill": 503}
    assert await panel.call(refill=503) == {"status": "Pending"}


async def test_refills_can_be_rejected(start_panel: StartPanel):
    panel = await start_panel(refill_reject_ratio=1.0, tick=0)
    order = await panel.add()
    refill = (await panel.call(action="refill", order=order))["refill"]
    assert await panel.call(action="refill_status", refill=refill) == {"status": "Rejected"}


async def test_a_pending_order_cancelled_becomes_canceled_with_a_full_refund_next_tick(
    panel: Panel,
):
    order, no_cancel = await panel.add(1), await panel.add(2, quantity=100)
    assert await panel.call(action="cancel", orders=f"{order},{no_cancel},9") == [
        {"order": order, "cancel": 1},
        {"order": no_cancel, "cancel": {"error": "Cancel is not available for this order"}},
        {"order": 9, "cancel": {"error": "Incorrect order ID"}},
    ]
    assert (await panel.status(order))["status"] == "Pending"  # until the next tick
    panel.sim.skip(10)
    answer = await panel.status(order)
    assert (answer["status"], answer["charge"], answer["remains"]) == ("Canceled", "0.00", "1000")
    assert await panel.balance() == Decimal("999.975")  # only the uncancellable one is paid
    # A lone `order` is accepted; a finished order cannot be cancelled again.
    assert await panel.call(action="cancel", order=order) == [
        {"order": order, "cancel": {"error": "Cancel is not available for this order"}}
    ]


async def test_an_order_cancelled_while_in_progress_ends_partial(panel: Panel):
    order = await panel.add(quantity=900)
    panel.sim.skip(10)
    assert (await panel.status(order))["remains"] == "600"
    assert await panel.call(action="cancel", orders=str(order)) == [{"order": order, "cancel": 1}]
    panel.sim.skip(10)
    answer = await panel.status(order)
    assert (answer["status"], answer["remains"], answer["charge"]) == ("Partial", "600", "0.27")
    assert await panel.balance() == Decimal("999.73")


async def test_duplicate_links_are_refused_naming_the_active_order(start_panel: StartPanel):
    panel = await start_panel(refuse_duplicate_links=True)
    first = await panel.add(1)
    answer = await panel.call(action="add", service=1, link=LINK, quantity=100)
    assert answer == {"error": f"{DUPLICATE} (active order: {first})"}
    await panel.add(2, quantity=100)  # another service, same link: fine
    panel.sim.skip(30)
    assert await panel.add(1) == first + 2  # the first one is done
    assert panel.sim.adds_for_link(LINK) == 4


async def test_duplicate_links_are_accepted_by_default(panel: Panel):
    assert [await panel.add(), await panel.add()] == [10001, 10002]


async def test_rates_change_and_services_disappear_at_run_time(panel: Panel):
    panel.sim.set_rate(1, Decimal("1.1"))
    panel.sim.remove_service(2)
    services = {s["service"]: s for s in await panel.call(action="services")}
    assert services[1]["rate"] == "1.10"
    assert 2 not in services
    order = await panel.add(1, quantity=1000)
    assert panel.sim.orders[order].charge == Decimal("1.10")
    answer = await panel.call(action="add", service=2, link=LINK, quantity=100)
    assert answer == {"error": "Invalid service ID"}


async def test_concurrent_adds_get_distinct_ids_and_exact_charges(panel: Panel):
    orders = await asyncio.gather(*(panel.add(link=f"{LINK}/{i}", quantity=100) for i in range(50)))
    assert sorted(orders) == list(range(10001, 10051))
    assert await panel.balance() == Decimal(1000) - 50 * Decimal("0.09")


async def test_the_request_log_records_every_request_but_never_the_key(panel: Panel):
    await panel.call(action="balance")
    await panel.add(quantity=100)
    await panel.call(key="not-the-key", action="services")
    await panel.call("query", action="status", order=10001)
    log = panel.sim.requests
    assert [r.action for r in log] == ["balance", "add", "services", "status"]
    assert [r.method for r in log] == ["POST", "POST", "POST", "GET"]
    assert log[1].params == {"action": "add", "service": "1", "link": LINK, "quantity": "100"}
    assert all("key" not in r.params for r in log)
    assert KEY not in repr(log)
    assert "not-the-key" not in repr(log)
    assert log[0].time <= log[3].time
    assert panel.sim.adds_for_link(LINK) == 1


async def test_latency_delays_every_answer(panel: Panel):
    panel.sim.config.latency = 0.2
    started = time.monotonic()
    await panel.call(action="balance")
    assert time.monotonic() - started >= 0.2


# --- faults ---


async def test_timeout_fault_creates_the_order_and_never_answers(panel: Panel):
    panel.sim.config.faults = Faults(timeout=1.0)
    with pytest.raises(asyncio.TimeoutError):
        await panel.raw(action="add", service=1, link=LINK, quantity=100, client_timeout=0.3)
    assert [o.link for o in panel.sim.orders.values()] == [LINK]
    assert panel.sim.adds_for_link(LINK) == 1
    assert panel.sim.requests[-1].fault == "timeout"


async def test_reset_fault_drops_the_connection_after_recording(panel: Panel):
    panel.sim.config.faults = Faults(reset=1.0)
    with pytest.raises(aiohttp.ClientConnectionError):
        await panel.raw(action="add", service=1, link=LINK, quantity=100)
    assert len(panel.sim.orders_for_link(LINK)) == 1
    assert (panel.sim.requests[-1].action, panel.sim.requests[-1].fault) == ("add", "reset")


async def test_http_5xx_fault_creates_the_order_on_500_only(panel: Panel):
    panel.sim.config.faults = Faults(http_500=1.0)
    codes = set()
    for i in range(16):
        link = f"{LINK}/{i}"
        status, content_type, _ = await panel.raw(action="add", service=1, link=link, quantity=100)
        codes.add(status)
        assert content_type == "text/html"
        assert len(panel.sim.orders_for_link(link)) == (1 if status == 500 else 0)
        assert panel.sim.adds_for_link(link) == 1
    assert codes == {500, 502, 503}


async def test_html_fault_answers_200_with_a_cloudflare_page_and_no_order(panel: Panel):
    panel.sim.config.faults = Faults(html=1.0)
    status, content_type, body = await panel.raw(action="add", service=1, link=LINK, quantity=100)
    assert (status, content_type) == (200, "text/html")
    assert b"Just a moment..." in body
    assert b"Cloudflare" in body
    assert panel.sim.orders == {}
    assert panel.sim.adds_for_link(LINK) == 1


async def test_empty_fault_answers_200_with_no_body_after_processing(panel: Panel):
    panel.sim.config.faults = Faults(empty=1.0)
    status, _, body = await panel.raw(action="add", service=1, link=LINK, quantity=100)
    assert (status, body) == (200, b"")
    assert len(panel.sim.orders) == 1


async def test_malformed_json_fault_cuts_the_answer_short(panel: Panel):
    panel.sim.config.faults = Faults(malformed_json=1.0)
    status, content_type, body = await panel.raw(action="add", service=1, link=LINK, quantity=100)
    assert (status, content_type) == (200, "application/json")
    assert body
    assert b'{"order":10001}'.startswith(body)
    assert body != b'{"order":10001}'
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(body)
    assert len(panel.sim.orders) == 1


async def test_string_numbers_fault_swaps_numbers_and_numeric_strings(panel: Panel):
    panel.sim.config.faults = Faults(string_numbers=1.0)
    assert await panel.call(action="add", service=1, link=LINK, quantity=1000) == {"order": "10001"}
    panel.sim.skip(10)
    answer = await panel.call(action="status", order=10001)
    assert answer["charge"] == 0.9
    assert answer["remains"] == 667
    assert type(answer["start_count"]) is int
    assert answer["status"] == "In progress"
    service = (await panel.call(action="services"))[0]
    assert (service["service"], service["rate"], service["min"]) == ("1", 0.9, 50)
    assert await panel.call(action="balance") == {"balance": 999.1, "currency": "USD"}


async def test_status_spellings_fault_answers_other_spellings(panel: Panel):
    orders = [await panel.add(link=f"{LINK}/{i}") for i in range(3)]
    panel.sim.force_status(orders[0], "Canceled")
    panel.sim.force_status(orders[1], "In progress", remains=10)
    panel.sim.force_status(orders[2], "Completed")
    panel.sim.config.faults = Faults(status_spellings=1.0)
    answer = await panel.call(action="status", orders=",".join(map(str, orders)))
    statuses = [a["status"] for a in answer.values()]
    assert statuses[0] in ("Cancelled", "canceled", "Refunded")
    assert statuses[1] in ("in_progress", "In Progress")
    assert statuses[2] == "completed"


async def test_order_id_key_fault_answers_order_id(panel: Panel):
    panel.sim.config.faults = Faults(order_id_key=1.0)
    answer = await panel.call(action="add", service=1, link=LINK, quantity=100)
    assert answer == {"order_id": 10001}


async def test_bare_string_errors_fault_in_multi_status(panel: Panel):
    order = await panel.add()
    panel.sim.config.faults = Faults(bare_string_errors=1.0)
    answer = await panel.call(action="status", orders=f"{order},77")
    assert answer["77"] == "Incorrect order ID"
    assert answer[str(order)]["status"] == "Pending"
    # A lone status keeps the usual error object.
    assert await panel.status(77) == {"error": "Incorrect order ID"}


async def test_odd_remains_fault_answers_negative_or_unknown_remains(panel: Panel):
    orders = [await panel.add(link=f"{LINK}/{i}") for i in range(10)]
    panel.sim.config.faults = Faults(odd_remains=1.0)
    answer = await panel.call(action="status", orders=",".join(map(str, orders)))
    remains = {a["remains"] for a in answer.values()}
    assert "Unknown" in remains
    assert all(r == "Unknown" or int(r) < 0 for r in remains)


async def test_faults_repeat_for_the_same_seed(start_panel: StartPanel):
    runs = []
    for _ in range(2):
        panel = await start_panel(seed=3, faults=Faults(html=0.5, string_numbers=0.5))
        runs.append([await panel.raw(action="balance") for _ in range(20)])
    assert runs[0] == runs[1]
    assert len({body for _, _, body in runs[0]}) == 3  # HTML, strings, numbers


async def test_a_down_panel_resets_or_answers_503_and_takes_no_order(panel: Panel):
    panel.sim.down = True
    outcomes = set()
    for _ in range(10):
        try:
            status, _, _ = await panel.raw(action="add", service=1, link=LINK, quantity=100)
            outcomes.add(status)
        except aiohttp.ClientConnectionError:
            outcomes.add("reset")
    assert outcomes == {503, "reset"}
    assert panel.sim.orders == {}
    assert panel.sim.adds_for_link(LINK) == 0
    assert {r.fault for r in panel.sim.requests} == {"down"}
    panel.sim.down = False
    assert await panel.add() == 10001


# --- the standalone process ---


@pytest.mark.slow
def test_the_standalone_process_answers_and_stops_on_sigterm(tmp_path: Path):
    port = free_port()
    env = {**os.environ, "SIM_API_KEY": "env-key"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "reseller.simulator", "--port", str(port), "--tick", "0.1"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/api/v2"
        status, body = wait_for_http(f"{url}?key=env-key&action=balance", proc)
        assert (status, orjson.loads(body)) == (200, {"balance": "1000.00", "currency": "USD"})
        status, body = wait_for_http(f"{url}?key=sim-key&action=balance", proc)
        assert orjson.loads(body) == {"error": "Invalid API key"}
    finally:
        assert stop(proc) == 0
    output = proc.stdout.read()
    assert re.search(rf"http://127\.0\.0\.1:{port}/api/v2", output), output
    assert "Traceback" not in output


def test_the_standalone_command_refuses_bad_fault_probabilities():
    answer = subprocess.run(
        [sys.executable, "-m", "reseller.simulator", "--fault-timeout", "1.5"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert answer.returncode == 2
    assert "--fault-timeout" in answer.stderr


def test_simulate_help_names_the_key_it_accepts(capsys) -> None:
    from reseller.cli import main

    with pytest.raises(SystemExit) as done:
        main(["simulate", "--help"])
    assert done.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert out.startswith("usage: reseller simulate")
    assert "accepts the API key sim-key (or --key, or $SIM_API_KEY)" in out
