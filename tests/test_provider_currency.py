"""A provider whose `balance` answer names a currency other than its configured one: its
services go off sale at once (and stay off across restarts and catalog syncs), the mismatch is
logged, counted and shown, and they come back once the currencies agree again."""

from __future__ import annotations

from decimal import Decimal

from structlog.testing import capture_logs
from test_catalog_sync import run_sync
from test_cli import run

from reseller import catalog, config, metrics
from reseller.catalog import sync as catalog_sync
from reseller.jobs import balances
from reseller.upstream import Upstreams

EUR_YAML = """
providers:
  - {{name: sim, url: "{url}", key_env: SIM_TEST_KEY, currency: {currency}}}
currency_rates: {{EUR: 1.08}}
pricing: {{markup_percent: 50, rounding: {{decimals: 2, mode: up}}}}
services:
  - {{id: 1, provider: sim, upstream_service: 1}}
"""
REASON = "provider sim reports currency EUR, configured USD"


def mismatches_counted() -> float:
    value = metrics.REGISTRY.get_sample_value(
        "reseller_provider_currency_mismatch_total", {"provider": "sim"}
    )
    return value or 0.0


async def reasons(pool) -> dict[int, str | None]:
    rows = await pool.fetch("SELECT id, disabled_reason FROM services ORDER BY id")
    return {r["id"]: r["disabled_reason"] for r in rows}


async def test_a_provider_answering_in_another_currency_goes_off_sale_until_it_agrees_again(
    stack,
) -> None:
    assert (await catalog.load(stack.pool)).get(1).rate == Decimal("1.35")
    counted = mismatches_counted()
    stack.sim.state.config.currency = "EUR"  # configured (by default) as USD
    with capture_logs() as logs:
        counts = await stack.jobs.balances()
    assert counts["currency_mismatch"] == 1
    assert await reasons(stack.pool) == {1: REASON, 2: REASON, 3: REASON}
    assert (await catalog.load(stack.pool)).get(1) is None
    assert mismatches_counted() == counted + 1
    [warning] = [e for e in logs if e["event"] == "provider_currency_mismatch"]
    assert warning["log_level"] == "warning"
    assert (warning["provider"], warning["reported"], warning["configured"]) == (
        "sim",
        "EUR",
        "USD",
    )
    assert await stack.pool.fetchval("SELECT currency FROM provider_balances") == "EUR"
    # A catalog sync, or a restart (which rebuilds from the database), keeps them off sale.
    await stack.jobs.catalog()
    await catalog_sync.rebuild(stack.pool, stack.live.current)
    assert await reasons(stack.pool) == {1: REASON, 2: REASON, 3: REASON}
    # The provider answers in its configured currency again: back on sale right away.
    stack.sim.state.config.currency = "USD"
    counts = await stack.jobs.balances()
    assert counts["currency_mismatch"] == 0
    assert (await catalog.load(stack.pool)).get(1).rate == Decimal("1.35")
    assert (await reasons(stack.pool))[1] is None


async def test_a_longer_currency_code_is_recorded_and_is_a_mismatch(stack) -> None:
    stack.sim.state.config.currency = "usdt"  # not cut to three letters and read as USD
    await stack.jobs.balances()
    assert await stack.pool.fetchval("SELECT currency FROM provider_balances") == "USDT"
    assert (await reasons(stack.pool))[1] == "provider sim reports currency USDT, configured USD"


async def test_fixing_the_configured_currency_puts_the_services_back_on_sale(
    pool, sim, cli_env, tmp_path, capsys
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(EUR_YAML.format(url=sim.url, currency="EUR"))  # the panel answers in USD
    await run_sync(pool, config.load(path))
    assert (await catalog.load(pool)).get(1).rate == Decimal("1.46")  # 0.90 × 1.08 × 1.5
    await check_balances(pool, config.load(path))
    assert await reasons(pool) == {1: "provider sim reports currency USD, configured EUR"}
    code, out, _ = await run(capsys, "--config", str(path), "providers", "balance")
    assert code == 0
    row = next(line for line in out.splitlines() if line.startswith("sim"))
    assert "1000.00 USD" in row
    assert "CURRENCY MISMATCH: provider sim reports currency USD, configured EUR" in row
    # The operator corrects the config; applying it (reload, restart) puts them back on sale.
    path.write_text(EUR_YAML.format(url=sim.url, currency="USD"))
    await catalog_sync.rebuild(pool, config.load(path))
    assert (await catalog.load(pool)).get(1).rate == Decimal("1.35")
    code, out, _ = await run(capsys, "--config", str(path), "providers", "balance")
    assert "MISMATCH" not in out


async def test_providers_balance_shows_low_paused_and_mismatch_but_writes_nothing(
    pool, sim, cli_env, tmp_path, capsys
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        EUR_YAML.format(url=sim.url, currency="EUR").replace(
            "currency: EUR}", "currency: EUR, balance_alert: 5000, pause_below: 2000}"
        )
    )
    await run_sync(pool, config.load(path))
    before = await snapshot(pool)
    code, out, _ = await run(capsys, "--config", str(path), "providers", "balance")
    assert code == 0
    row = next(line for line in out.splitlines() if line.startswith("sim"))
    assert row.split(None, 1)[1] == (
        "1000.00 USD  LOW (alert below 5000)  PAUSED (below 2000)"
        "  CURRENCY MISMATCH: provider sim reports currency USD, configured EUR"
    )
    # What the balances job would record and act on, the command only shows.
    assert await snapshot(pool) == before
    assert before["provider_balances"] == []
    assert (await catalog.load(pool)).get(1).rate == Decimal("1.46")


async def check_balances(pool, cfg) -> None:
    """The balances job's writer, once per provider."""
    upstreams = Upstreams(cfg.providers)
    try:
        for client in upstreams:
            await balances.check_balance(pool, client, cfg)
    finally:
        await upstreams.close()


async def snapshot(pool) -> dict[str, list]:
    tables = ("provider_balances", "services", "service_upstreams", "upstream_services")
    return {
        t: [dict(r) for r in await pool.fetch(f"SELECT * FROM {t} ORDER BY 1, 2")] for t in tables
    }
