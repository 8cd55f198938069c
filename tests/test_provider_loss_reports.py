"""What the provider checks tell the operator: `report --losses` (table, CSV, JSON),
`providers balance`, the metrics, an alert past its threshold and `report --drift`."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import aiohttp
import orjson
from aiohttp.test_utils import TestServer
from test_alerts import alerting, receiver  # noqa: F401 (a fixture)
from test_cli import run
from test_provider_losses import UNITS, finish, poll
from test_sync import placed, upstream_of

from reseller.api.metrics import metrics_app


async def unrefunded_and_overcharged(stack) -> tuple[int, int, int]:
    """Three orders of 1000 units (0.90 upstream): a Partial the panel did not refund, a
    Canceled it refunded, and one it charged 20 % above its rate (answered as Completed: an
    answer outside the strict table, so the order is frozen, Processing, its loss recorded)."""
    state = stack.sim.state
    kept, honoured = await placed(stack, 2, quantity=UNITS)
    state.config.overcharge_ratio, state.config.overcharge_percent = 1.0, Decimal(20)
    [overcharged] = await placed(stack, quantity=UNITS)
    state.config.overcharge_ratio = 0.0
    state.config.unrefunded_ratio = 1.0  # the panel decides when it ends the order
    state.force_status(await upstream_of(stack, kept), "Partial", remains=400)
    state.config.unrefunded_ratio = 0.0
    state.force_status(await upstream_of(stack, honoured), "Canceled")
    state.force_status(await upstream_of(stack, overcharged), "Completed")
    await poll(stack)
    return kept, honoured, overcharged


async def test_report_losses_lists_each_loss_with_the_amount_at_stake(
    stack, cli_env, capsys
) -> None:
    kept, _, overcharged = await unrefunded_and_overcharged(stack)
    code, out, _ = await run(capsys, "report", "--losses", "--json")
    assert code == 0, out
    document = orjson.loads(out)
    assert [(x["order"], x["kind"], x["status"]) for x in document["losses"]] == [
        (kept, "unrefunded", "Partial"),
        (overcharged, "overcharged", "Processing"),
    ]
    assert document["losses"][0] | {"order": 0} == {
        "order": 0,
        "provider": "sim",
        "kind": "unrefunded",
        "status": "Partial",
        "expected": "0.54",
        "charged": "0.90",
        "at_stake": "0.36",
        "currency": "USD",
        "at_stake_base": "0.36",
    }
    assert document["providers"] == [
        {
            "provider": "sim",
            "refunds_owed": 2,
            "refunds_honoured": 1,
            "honoured_percent": "50.0",
            "unrefunded": "0.36",
            "overcharged": "0.18",
            "currency": "USD",
        }
    ]
    code, out, _ = await run(capsys, "report", "--losses", "--csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["order", "provider", "kind", "status", "expected", "charged", "at_stake",
                       "currency", "at_stake_base"]  # fmt: skip
    assert rows[2] == [str(overcharged), "sim", "overcharged", "Processing", "0.90", "1.08",
                       "0.18", "USD", "0.18"]  # fmt: skip
    code, out, _ = await run(capsys, "report", "--losses")
    lines = out.splitlines()
    assert lines[1].split() == ["ORDER", "PROVIDER", "KIND", "STATUS", "EXPECTED", "CHARGED",
                                "AT", "STAKE", "CURRENCY", "AT", "STAKE", "BASE"]  # fmt: skip
    assert lines[2].split() == [str(kept), "sim", "unrefunded", "Partial", "0.54", "0.90",
                                "0.36", "USD", "0.36"]  # fmt: skip
    assert lines[-1].split() == ["sim", "2", "1", "50.0", "0.36", "0.18", "USD"]


async def test_providers_balance_shows_refunds_honoured_and_overcharges(
    stack, operator, capsys
) -> None:
    await unrefunded_and_overcharged(stack)
    code, out, _ = await run(capsys, "providers", "balance")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[-2].split()[:4] == ["PROVIDER", "REFUNDS", "OWED", "REFUNDS"]
    assert lines[-1].split() == ["sim", "2", "1", "50.0", "0.36", "0.18", "USD"]


async def test_metrics_give_each_providers_honoured_share_and_amounts(stack) -> None:
    await unrefunded_and_overcharged(stack)
    server = TestServer(metrics_app(stack.pool), host="127.0.0.1")
    await server.start_server()
    try:
        url = str(server.make_url("/metrics"))
        async with aiohttp.ClientSession() as session, session.get(url) as answer:
            text = await answer.text()
    finally:
        await server.close()
    assert 'reseller_provider_refunds_honoured_ratio{provider="sim"} 0.5' in text
    assert 'reseller_provider_unrefunded_amount{provider="sim"} 0.36' in text
    assert 'reseller_provider_overcharged_amount{provider="sim"} 0.18' in text


async def test_an_alert_fires_once_the_amount_kept_passes_the_threshold(
    stack,
    receiver,  # noqa: F811 (the fixture)
) -> None:
    settings = replace(alerting(receiver).alerts, provider_losses_above=Decimal("0.5"))
    stack.live.current = replace(stack.live.current, alerts=settings)
    try:
        stack.sim.state.config.unrefunded_ratio = 1.0
        [first, second] = await placed(stack, 2, quantity=UNITS)
        await finish(stack, first, "Partial", remains=400)  # 0.36 kept: under the threshold
        assert await stack.jobs.alerts() == {}
        await finish(stack, second, "Canceled")  # 0.90 more
        assert await stack.jobs.alerts() == {"firing": 2}
        [hook] = receiver.hooks
        assert (hook["alert"], hook["subject"], hook["state"]) == (
            "provider_losses",
            "sim",
            "firing",
        )
        assert hook["text"] == (
            "Provider sim kept 1.26 USD beyond its rates in 24 h (unrefunded 1.26, overcharged"
            f" 0.00), above provider_losses_above 0.5 USD: #{first}, #{second}"
        )
    finally:
        await stack.jobs.stop()


async def test_report_drift_compares_the_balance_drop_with_expected_spend(
    stack, cli_env, capsys
) -> None:
    await stack.jobs.balances()  # 1000.00: the opening balance
    await unrefunded_and_overcharged(stack)
    await stack.jobs.balances()
    code, out, _ = await run(capsys, "report", "--drift", "--json")
    assert code == 0, out
    [day] = orjson.loads(out)["days"]
    # Placed 0.90 × 3, owed back 0.36 (Partial) + 0.90 (Canceled): 1.44 expected. The panel took
    # 0.36 it should have refunded and 0.18 above its rate: 1.98.
    assert {k: day[k] for k in ("provider", "opening", "closing", "drop", "expected", "drift")} == {
        "provider": "sim",
        "opening": "1000.00",
        "closing": "998.02",
        "drop": "1.98",
        "expected": "1.44",
        "drift": "0.54",
    }
    assert (day["rate_unknown"], day["note"]) == (0, "took more than expected")
    stack.sim.state.balance += Decimal(500)  # a top-up the reseller cannot see
    await stack.jobs.balances()
    code, out, _ = await run(capsys, "report", "--drift")
    row = out.splitlines()[2]
    assert row.split()[:8] == ["sim", day["day"], "1000.00", "1498.02", "-498.02", "1.44", "-",
                               "USD"]  # fmt: skip
    assert row.endswith("balance rose: taken as a top-up (not known to reseller), no drift")


async def test_each_day_of_drift_starts_from_the_last_balance_before_it(
    stack, cli_env, capsys
) -> None:
    """Days follow each other reading to reading: an order placed after yesterday's last
    reading counts today, and nothing twice."""
    [yesterday, late, today] = await placed(stack, 3, quantity=UNITS)
    for order_id in (yesterday, late, today):
        await finish(stack, order_id, "Completed")
    history = "INSERT INTO provider_balance_history VALUES ('sim', $1, 'USD', $2)"
    midnight = "date_trunc('day', now())"
    await stack.pool.execute(
        f"UPDATE orders SET created_at = {midnight} - interval '12 hours' WHERE id = $1", yesterday
    )
    await stack.pool.execute(
        f"UPDATE orders SET created_at = {midnight} - interval '1 hour' WHERE id = $1", late
    )
    start = await stack.pool.fetchval(f"SELECT {midnight}")
    await stack.pool.execute(history, Decimal(1000), start - timedelta(hours=14))
    await stack.pool.execute(history, Decimal("999.1"), start - timedelta(hours=2))
    await stack.pool.execute(history, Decimal("997.3"), datetime.now(UTC))
    code, out, _ = await run(
        capsys, "report", "--drift", "--json", "--from", f"{start - timedelta(days=1):%Y-%m-%d}"
    )
    assert code == 0, out
    days = [
        (d["opening"], d["closing"], d["expected"], d["drift"]) for d in orjson.loads(out)["days"]
    ]
    assert days == [("1000.00", "999.10", "0.90", "0.00"), ("999.10", "997.30", "1.80", "0.00")]
    code, out, _ = await run(capsys, "report", "--drift", "--json", "--from", f"{start:%Y-%m-%d}")
    [day] = orjson.loads(out)["days"]
    assert (day["opening"], day["expected"], day["note"]) == ("999.10", "1.80", "")
