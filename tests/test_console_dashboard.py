"""The console's dashboard over the whole stack (API, dispatcher, simulated provider, real
PostgreSQL): the report's figures for today, 7 and 30 days, the charts drawn from them, the
orders waiting on someone, the providers' state and the services taken off sale lately."""

from __future__ import annotations

import re

from reseller.audit import Actor
from reseller.catalog import overrides
from reseller.console.figures import Figures


async def test_the_dashboard_shows_todays_orders_money_charts_and_providers(
    stack, stack_console
) -> None:
    for n in range(3):
        await stack.add(link=f"https://ig.com/dash{n}")
    await stack.settle()
    stack.sim.state.skip(10)  # the provider finishes them
    await stack.jobs.status()
    await stack.jobs.balances()
    await overrides.disable(stack.pool, 3, by=Actor("test", "provider raised its price"))
    assert await stack_console.sign_in() == 303

    status, page, _ = await stack_console.get("/")

    assert status == 200
    today = re.search(r'<th scope="row">Today</th><td>(\d+)</td><td>([\d.]+)</td>', page)
    assert today.groups() == ("3", "0.405")  # 3 × 100 at the marked-up 1.35 per 1000
    assert '<polyline class="series revenue"' in page
    assert re.search(r">Completed</text>\s*<rect class=\"bar\"", page)
    assert re.search(r'/providers">sim</a></th>.*?<td>yes</td>', page, re.S)
    assert "provider raised its price" in page
    assert "<script" not in page


async def test_the_figures_are_summed_again_in_the_background_once_stale(stack) -> None:
    now = [0.0]
    figures = Figures(stack.pool, stack.live, clock=lambda: now[0])
    await stack.add(link="https://ig.com/fig1")
    first = await figures.latest()
    assert first.days[-1].orders == 1
    await stack.add(link="https://ig.com/fig2")
    assert (await figures.latest()) is first  # fresh enough: nothing summed again
    now[0] += stack.live.current.admin.figures_seconds
    assert (await figures.latest()) is first  # stale: shown at once, the next one started
    assert (await figures.refreshed()).days[-1].orders == 2
    assert (await figures.latest()).days[-1].orders == 2
    await figures.close()
