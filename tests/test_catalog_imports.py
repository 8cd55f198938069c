"""Imported categories against the simulated panel: each imported service is priced by the
import rule that covers it now, the same way on every sync, and goes off sale (keeping its
local ID) when no rule covers it any more."""

from __future__ import annotations

from decimal import Decimal

from test_catalog_sync import run_sync

from reseller import catalog, config
from reseller.catalog import sync as catalog_sync

# Simulator catalog: 9 "Telegram" 0.75; 1 "Instagram Followers" 0.90; 2 "Instagram Likes" 0.25.
YAML = """
providers:
  - {{name: sim, url: "{url}", key_env: SIM_TEST_KEY}}
pricing:
  markup_percent: 10
  providers: {{sim: {{markup_percent: {provider}}}}}
  categories: {{"Instagram Likes": {{markup_percent: {category}}}}}
  rounding: {{decimals: 2, mode: up}}
imports:
{imports}
"""
TELEGRAM = '  - {provider: sim, category: "Telegram*", first_id: 100, markup_percent: 35}\n'
INSTAGRAM = '  - {provider: sim, category: "Instagram*", first_id: 200}\n'
# Shadowed by the broader rule above it: the first matching rule wins.
LIKES = '  - {provider: sim, category: "Instagram Likes", first_id: 300, markup_percent: 60}\n'


def make_config(sim, *, imports: str, provider: int = 25, category: int = 40) -> config.Config:
    return config.parse(
        YAML.format(url=sim.url, provider=provider, category=category, imports=imports)
    )


async def rates(pool, *ids: int) -> list[Decimal | None]:
    live = await catalog.load(pool)
    return [None if live.get(i) is None else live.get(i).rate for i in ids]


async def test_imported_services_keep_their_pricing_rule_on_every_sync(pool, sim) -> None:
    cfg = make_config(sim, imports=TELEGRAM + INSTAGRAM + LIKES)
    # Telegram 0.75 × 1.35 (its rule); Followers 0.90 × 1.25 (provider); Likes 0.25 × 1.40
    # (category glob; its own rule comes second and is shadowed).
    expected = [Decimal("1.02"), Decimal("1.13"), Decimal("0.35")]
    for _ in range(3):
        await run_sync(pool, cfg)
        assert await rates(pool, 100, 200, 201) == expected
    # Later edits of the provider and category markups take effect on the imports.
    await run_sync(pool, make_config(sim, imports=TELEGRAM + INSTAGRAM + LIKES, provider=30))
    assert await rates(pool, 100, 200, 201) == [Decimal("1.02"), Decimal("1.17"), Decimal("0.35")]
    await catalog_sync.rebuild(pool, make_config(sim, imports=TELEGRAM + INSTAGRAM, category=50))
    assert await rates(pool, 100, 200, 201) == [Decimal("1.02"), Decimal("1.13"), Decimal("0.38")]
    assert await pool.fetchval("SELECT count(*) FROM service_imports WHERE local_id >= 300") == 0


async def test_removing_an_import_rule_takes_its_services_off_sale_under_the_same_id(
    pool, sim
) -> None:
    await run_sync(pool, make_config(sim, imports=TELEGRAM + INSTAGRAM))
    assert await rates(pool, 100, 200) == [Decimal("1.02"), Decimal("1.13")]
    report = await run_sync(pool, make_config(sim, imports=INSTAGRAM))
    assert (100, "no import rule covers it any more") in report.disabled
    assert await rates(pool, 100, 200) == [None, Decimal("1.13")]
    row = await pool.fetchrow("SELECT name, disabled_reason FROM services WHERE id = 100")
    assert tuple(row) == ("Telegram Poll Votes", "no import rule covers it any more")
    assert (
        await pool.fetchval(
            "SELECT local_id FROM service_imports WHERE provider = 'sim' AND upstream_service = '9'"
        )
        == 100
    )
    # With no import rule left at all, the same; and the rule back brings back the same ID.
    report = await run_sync(pool, make_config(sim, imports="  []\n"))
    assert (200, "no import rule covers it any more") in report.disabled
    await run_sync(pool, make_config(sim, imports=TELEGRAM + INSTAGRAM))
    assert await rates(pool, 100, 200) == [Decimal("1.02"), Decimal("1.13")]
