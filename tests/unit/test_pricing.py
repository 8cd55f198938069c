"""Pricing rules, table-driven and Decimal-exact; catalog building never sells at a loss."""

from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path

import pytest

from reseller import config
from reseller.catalog import build as catalog_build
from reseller.catalog import pricing
from reseller.catalog.model import Offer
from reseller.config.catalog import PricingConfig

D = Decimal

RULES = PricingConfig(
    markup_percent=D(30),
    providers={"cheap": D(10)},
    categories=(("instagram*", D(50)), ("*likes*", D(70))),
    min_rate=D("0.01"),
    decimals=2,
    rounding="up",
)


@pytest.mark.parametrize(
    ("provider", "category", "service_markup", "expected"),
    [
        ("main", "TikTok Views", None, D(30)),  # default
        ("cheap", "TikTok Views", None, D(10)),  # provider beats default
        ("cheap", "Instagram Followers", None, D(50)),  # category beats provider
        ("main", "INSTAGRAM Likes", None, D(50)),  # first matching glob, case-insensitive
        ("main", "YouTube Likes", None, D(70)),
        ("cheap", "Instagram Followers", D(5), D(5)),  # service beats everything
    ],
)
def test_most_specific_markup_wins(provider, category, service_markup, expected) -> None:
    found = pricing.markup_for(
        RULES, provider=provider, category=category, service_markup=service_markup
    )
    assert found == expected


@pytest.mark.parametrize(
    ("cost", "markup", "rules", "expected"),
    [
        (D("1.00"), D(30), RULES, D("1.30")),
        (D("0.123"), D(30), RULES, D("0.16")),  # 0.1599 rounded up
        (D("0.001"), D(30), RULES, D("0.01")),  # floor
        (D("0.123"), D(30), PricingConfig(decimals=2, rounding="down"), D("0.15")),
        (D("0.125"), D(0), PricingConfig(decimals=2, rounding="half_up"), D("0.13")),
        (D("0.3333333"), D(0), PricingConfig(), D("0.33334")),  # 5 decimals, up
        (D("2"), D(-50), PricingConfig(), D("1.00000")),  # a discount is a markup too
    ],
)
def test_sell_rate_applies_markup_floor_and_rounding(cost, markup, rules, expected) -> None:
    assert pricing.sell_rate(cost, markup, rules) == expected


@pytest.mark.parametrize(
    ("cost", "category", "markup", "fixed", "expected"),
    [
        (D("1.00"), "TikTok Views", None, None, (D("1.30"), None)),  # default markup
        (D("1.00"), "Instagram", None, None, (D("1.50"), None)),  # category markup
        (D("1.00"), "Instagram", D(5), None, (D("1.05"), None)),  # the service's own
        (D("0.40"), "Instagram", None, D("0.5"), (D("0.5"), None)),  # fixed: as written
        (D("0.001"), "Instagram", None, D("0.001"), (D("0.01"), None)),  # fixed: floor
        (D("0.60"), "Instagram", None, D("0.50"), (D("0.50"), "sell rate 0.50 below cost 0.60")),
        (D("2.00"), "Instagram", D(-60), None, (D("0.80"), "sell rate 0.80 below cost 2.00")),
    ],
)
def test_price_picks_fixed_rate_or_markup_and_takes_below_cost_off_sale(
    cost, category, markup, fixed, expected
) -> None:
    found = pricing.price(
        cost, RULES, provider="main", category=category, markup_percent=markup, fixed_rate=fixed
    )
    assert found == expected


def test_catalog_building_knows_nothing_of_the_upstream_client() -> None:
    tree = ast.parse(Path(catalog_build.__file__).read_text())
    imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert "reseller.catalog.model" in imported
    assert not [m for m in imported if m.startswith("reseller.upstream")]


def test_currency_conversion_is_exact() -> None:
    rates = {"EUR": D("1.08"), "RUB": D("0.011")}
    assert pricing.convert(D("0.5"), "EUR", rates=rates, base="USD") == D("0.540")
    assert pricing.convert(D("100"), "RUB", rates=rates, base="USD") == D("1.100")
    assert pricing.convert(D("0.5"), "USD", rates=rates, base="USD") == D("0.5")


CONFIG = """
providers:
  - {name: main, url: "http://m/api/v2", key_env: M}
  - {name: backup, url: "http://b/api/v2", key_env: B, currency: EUR}
currency_rates: {EUR: 1.10}
pricing:
  markup_percent: 20
  rounding: {decimals: 2, mode: up}
services:
  - id: 1
    upstreams: [{provider: main, service: 101}, {provider: backup, service: 7}]
    name: Followers
  - {id: 2, provider: main, upstream_service: 102, rate: 0.50}
  - {id: 3, provider: main, upstream_service: 103}
imports:
  - {provider: backup, category: "Tele*", first_id: 1000, markup_percent: 50}
"""


def offer(service_id: str, rate: str, category: str = "Instagram", **extra) -> Offer:
    fields = dict(
        id=service_id,
        name=f"up {service_id}",
        type="Default",
        category=category,
        rate=D(rate),
        min=10,
        max=1000,
        refill=True,
        cancel=False,
        dripfeed=False,
    )
    return Offer(**{**fields, **extra})


def entries(offered, import_ids=None):
    built = catalog_build.build(config.parse(CONFIG), offered, import_ids or {})
    return {e.service.id: e for e in built.entries}, built.new_import_ids


def test_explicit_service_prices_from_its_first_candidate() -> None:
    found, _ = entries({("main", "101"): offer("101", "1.00"), ("backup", "7"): offer("7", "0.5")})
    first = found[1]
    assert first.enabled
    assert (first.service.name, first.service.rate, first.service.min) == (
        "Followers",
        D("1.20"),
        10,
    )
    assert [(c.provider, c.cost_rate) for c in first.candidates] == [
        ("main", D("1.00")),
        ("backup", D("0.550")),
    ]


def test_failover_candidate_prices_the_service_when_the_first_is_gone() -> None:
    found, _ = entries({("backup", "7"): offer("7", "1.00")})
    assert found[1].enabled
    assert found[1].service.rate == D("1.32")  # 1.00 EUR = 1.10 USD, +20 %


def test_fixed_rate_below_cost_disables_the_service() -> None:
    found, _ = entries({("main", "102"): offer("102", "0.60")})
    assert not found[2].enabled
    assert found[2].disabled_reason == "sell rate 0.50 below cost 0.60"


def test_fixed_rate_above_cost_sells_at_the_fixed_rate() -> None:
    found, _ = entries({("main", "102"): offer("102", "0.40")})
    assert (found[2].enabled, found[2].service.rate) == (True, D("0.50"))


def test_service_gone_upstream_is_disabled_not_deleted() -> None:
    found, _ = entries({("main", "101"): offer("101", "1")})
    assert found[3].disabled_reason == "gone from main"
    never_synced, _ = entries({})
    assert never_synced[3].disabled_reason == "not synced yet"


def test_unsupported_upstream_type_is_disabled() -> None:
    found, _ = entries({("main", "103"): offer("103", "1", type="Hologram")})
    assert found[3].disabled_reason == "unsupported type 'Hologram'"


def test_category_import_gives_stable_ids_across_syncs() -> None:
    offered = {
        ("backup", "20"): offer("20", "1", category="Telegram Members"),
        ("backup", "3"): offer("3", "2", category="Telegram Views"),
        ("backup", "99"): offer("99", "2", category="Instagram"),
    }
    found, new_ids = entries(offered)
    assert new_ids == {("backup", "3"): 1000, ("backup", "20"): 1001}
    assert found[1000].service.rate == D("3.30")  # 2 EUR → 2.20 USD, +50 % import markup
    # Next sync: a new service appears before the old ones; old IDs do not move.
    offered[("backup", "1")] = offer("1", "1", category="Telegram Polls")
    found, newer = entries(offered, new_ids)
    assert newer == {("backup", "1"): 1002}
    assert found[1000].service.name == "up 3"
    # And one disappears: its ID stays, disabled.
    del offered[("backup", "20")]
    found, _ = entries(offered, {**new_ids, **newer})
    assert found[1001].disabled_reason == "gone from backup"
