"""`reseller report` and `reseller providers …` against real orders and the simulated panel."""

from __future__ import annotations

from decimal import Decimal

import orjson
from test_cli import run
from test_sync import placed, upstream_of


async def test_report_sums_revenue_refunds_cost_and_margin(stack, cli_env, capsys) -> None:
    ids = await placed(stack, 3)
    stack.sim.state.force_status(await upstream_of(stack, ids[0]), "Partial", remains=40)
    stack.sim.state.force_status(await upstream_of(stack, ids[1]), "Completed")
    await stack.jobs.status()
    code, out, _ = await run(capsys, "report", "--by", "provider", "--json")
    assert code == 0, out
    lines = {line["key"]: line for line in orjson.loads(out)["lines"]}
    sim, total = lines["sim"], lines["TOTAL"]
    assert (sim["orders"], sim["revenue"], sim["refunds"]) == (3, "0.351", "0.054")
    costs = await stack.pool.fetchval("SELECT sum(cost) FROM orders")
    assert Decimal(sim["cost"]) == costs
    assert Decimal(sim["margin"]) == Decimal("0.351") - costs
    assert sim["cost_unknown"] == 0  # the sync has read every order's upstream charge
    assert total["revenue"] == "0.351"
    code, out, _ = await run(capsys, "report", "--by", "customer")
    assert code == 0
    assert out.splitlines()[2].split()[:6] == ["acme", "USD", "3", "0.351", "0.054", "0.351"]


async def test_report_refuses_a_backwards_range(cli_env, capsys) -> None:
    code, _, err = await run(capsys, "report", "--from", "2026-02-01", "--to", "2026-01-01")
    assert (code, err) == (2, "reseller: --to must be after --from\n")


async def test_providers_balance_and_ping(sim, cli_env, tmp_path, capsys) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        f'providers:\n  - {{name: sim, url: "{sim.url}", key_env: SIM_TEST_KEY,'
        " balance_alert: 5000}\n"
        '  - {name: dead, url: "http://127.0.0.1:9/api/v2", key_env: SIM_TEST_KEY}\n'
    )
    code, out, _ = await run(capsys, "--config", str(path), "providers", "balance")
    assert code == 1  # a provider could not be asked: a script or timer must notice
    assert "1000.00 USD  LOW (alert below 5000)" in out
    assert "unavailable (UpstreamNotSent" in out
    code, out, _ = await run(capsys, "--config", str(path), "providers", "ping")
    assert code == 1
    rows = {line.split()[0]: line for line in out.splitlines() if not line.startswith("…")}
    assert " ok " in rows["sim"] + " "
    assert "FAILED UpstreamNotSent" in rows["dead"]


async def test_report_by_day_sums_each_utc_date_of_the_range(stack, cli_env, capsys) -> None:
    ids = await placed(stack, 3)
    await stack.pool.execute(
        "UPDATE orders SET created_at = '2026-03-01 23:59:59+00' WHERE id = $1", ids[0]
    )
    await stack.pool.execute(
        "UPDATE orders SET created_at = '2026-03-02 00:00:00+00' WHERE id = ANY($1)", ids[1:]
    )
    code, out, _ = await run(
        capsys, "report", "--by", "day", "--from", "2026-03-01", "--to", "2026-03-03", "--json"
    )
    assert code == 0, out
    lines = {line["key"]: line["orders"] for line in orjson.loads(out)["lines"]}
    assert lines == {"2026-03-01": 1, "2026-03-02": 2, "TOTAL": 3}
