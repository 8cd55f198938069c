"""The console's Services, Providers and Audit log pages over the whole stack (real API,
dispatcher, simulated provider over HTTP, real PostgreSQL): what they show is what `services
list`, `providers ping|quality` and `audit` show, and an admin's actions there are the CLI's,
audited under the operator's name."""

from __future__ import annotations

import html
import re

import pytest
import pytest_asyncio
from console_client import VIEWER
from support import poll_until

from reseller import audit
from reseller.api import app as api_app
from reseller.audit import Actor


@pytest.fixture
def fast_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api_app, "CATALOG_POLL_SECONDS", 0.02)


@pytest_asyncio.fixture(loop_scope="session")
async def stack(fast_catalog, stack):
    """The stack, its API noticing a catalog change within a few hundredths of a second."""
    yield stack


def _row(page: str, first_cell: str) -> str:
    """The table row whose header cell is `first_cell`, its tags removed."""
    found = re.search(
        rf'<tr[^>]*>\s*<th scope="row">{re.escape(first_cell)}</th>(.*?)</tr>', page, re.S
    )
    assert found, first_cell
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


async def _listed(stack) -> set[int]:
    return {s["service"] for s in await stack.api.call(key=stack.key, action="services")}


async def test_the_services_page_shows_each_services_upstream_cost_sell_rate_and_margin(
    stack_console,
) -> None:
    await stack_console.sign_in()
    status, page, _ = await stack_console.get("/services")
    assert status == 200
    assert _row(page, "1").startswith("Instagram Followers")
    assert "sim:1 0.90 1.35 33.3% on sale" in _row(page, "1")
    assert "sim:3 2.10 3.15 33.3% on sale" in _row(page, "3")
    assert 'action="/services/1/disable"' in page


async def test_disable_and_enable_change_what_the_api_lists_and_are_audited_as_the_operator(
    stack_console, stack
) -> None:
    console = stack_console
    await console.sign_in()
    page = await console.submit("/services/1/disable", page="/services", reason=" ")
    assert "disabling a service needs a reason" in page
    assert 1 in await _listed(stack)
    page = await console.submit("/services/1/disable", page="/services", reason="complaints")
    assert "service 1: disabled by operator (complaints)" in page
    assert "disabled by operator: complaints" in _row(page, "1")
    await poll_until(lambda: _absent(stack, 1))
    page = await console.submit("/services/1/enable", page="/services")
    assert "service 1: no longer disabled by operator; on sale; changed: 1 put on sale" in page
    await poll_until(lambda: _present(stack, 1))
    page = await console.submit("/services/1/enable", page="/services")
    assert "service 1 is not disabled by the operator; nothing changed" in page

    _, trail, _ = await console.get("/audit?actor=console:ana")
    rows = re.findall(r"<tr><th scope=\"row\">(\S+ \S+)</th>(.*?)</tr>", trail, re.S)
    cells = [html.unescape(" ".join(re.sub(r"<[^>]+>", " ", r).split())) for _, r in rows]
    assert cells[0].startswith("console:ana service-enable service 1 ")  # newest first
    assert cells[1] == 'console:ana service-disable service 1 complaints {"was":"on sale"}'
    assert len(cells) == 2  # the operators' accounts were added by "test"
    _, everyone, _ = await console.get("/audit")
    assert "operator-add" in everyone


async def _absent(stack, service_id: int) -> bool:
    return service_id not in await _listed(stack)


async def _present(stack, service_id: int) -> bool:
    return service_id in await _listed(stack)


async def test_sync_now_shows_what_each_provider_offered_and_what_changed(
    stack_console, stack
) -> None:
    await stack_console.sign_in()
    status, page, _ = await stack_console.post(
        "/services/sync", csrf=await stack_console.csrf("/services")
    )
    assert status == 200
    assert re.search(r"sim: \d+ services offered", page)
    assert "3 services on sale, 0 disabled" in page
    assert "changed: nothing" in page
    entry = await stack.pool.fetchrow(
        "SELECT actor, action, detail FROM audit_log WHERE action = 'services-sync'"
    )
    assert (entry["actor"], entry["action"]) == ("console:ana", "services-sync")
    assert entry["detail"]["answered"] == ["sim"]


async def test_the_providers_page_shows_the_balance_failures_quality_and_a_ping_answers(
    stack_console, stack
) -> None:
    order = (await stack.add())["order"]
    await stack.add(service=2)  # its first candidate, sim's 404, is refused: sim's 1 takes it
    await stack.settle()
    stack.sim.state.force_status(int((await stack.order(order))["upstream_order_id"]), "Completed")
    await stack.jobs.status()
    await stack.jobs.balances()
    await stack.jobs.routing()
    await stack_console.sign_in()
    _, page, _ = await stack_console.get("/providers")
    assert re.fullmatch(
        r"\S+ USD ok \d{4}-\d\d-\d\d \d\d:\d\d UTC yes 1 0 0 Ping", _row(page, "sim")
    )
    assert _row(page, "sim:1").startswith("1 100.0 % 100.0 %")  # one settled order, delivered
    page = await stack_console.submit("/providers/sim/ping", page="/providers")
    assert re.search(r'class="flash ok" role="status">sim: ok \d+ ms<', page)
    page = await stack_console.submit("/providers/nobody/ping", page="/providers")
    assert "no provider named &#39;nobody&#39; in the config" in page


async def test_the_audit_log_pages_by_100_and_refuses_a_bad_date(stack_console, pool) -> None:
    for n in range(105):
        await audit.record(pool, Actor("bob", f"reason {n}"), "note", f"thing {n}")
    await stack_console.sign_in()
    _, page, _ = await stack_console.get("/audit?actor=bob")
    assert page.count('<tr><th scope="row">') == 100
    assert "reason 104" in page
    assert "reason 5<" in page
    assert "reason 4<" not in page
    older = re.search(r'href="/audit\?([^"]+)">Older entries', page).group(1)
    _, page, _ = await stack_console.get("/audit?" + older.replace("&amp;", "&"))
    assert page.count('<tr><th scope="row">') == 5
    assert "Older entries" not in page
    _, page, _ = await stack_console.get("/audit?subject=thing+7&until=2000-01-01")
    assert "No entries match these filters" in page
    status, page, _ = await stack_console.get("/audit?since=yesterday")
    assert status == 400
    assert "“From” is not a date (YYYY-MM-DD): &#39;yesterday&#39;" in page


async def test_a_viewer_sees_no_forms_and_a_forced_post_changes_nothing(
    stack_console, stack
) -> None:
    await stack_console.sign_in(VIEWER)
    for path in ("/services", "/providers", "/audit"):
        status, page, _ = await stack_console.get(path)
        assert status == 200
        assert page.count('method="post"') == 1  # signing out
    csrf = await stack_console.csrf("/services")
    for path, form in (
        ("/services/1/disable", {"reason": "forced"}),
        ("/services/sync", {}),
        ("/providers/sim/ping", {}),
    ):
        assert (await stack_console.post(path, csrf=csrf, **form))[0] == 403
    assert 1 in await _listed(stack)
    assert await stack.pool.fetchval("SELECT count(*) FROM service_overrides") == 0
