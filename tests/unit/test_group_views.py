"""`Catalog.for_group`: a group's view is built once per group and config, and rebuilt when a
reload changes either."""

from __future__ import annotations

from decimal import Decimal

from reseller import config
from reseller.catalog import Catalog
from reseller.catalog.customer_prices import PriceOverride
from reseller.catalog.model import Service

GROUPS = """
providers: [{name: p, url: 'http://p/api', key_env: P}]
services: [{id: 1, provider: p, upstream_service: 1}]
pricing: {rounding: {decimals: 2}, groups: {g: {discount_percent: %s}}}
"""


def catalog() -> Catalog:
    """One service at 1.00 costing 0.50."""
    rate, cost = Decimal("1.00"), Decimal("0.50")
    return Catalog([Service(1, "Likes", "Default", "IG", rate, 10, 100, False, False, False, cost)])


def test_a_group_view_is_kept_across_a_reload_that_does_not_change_it() -> None:
    live = catalog()
    first, same = config.parse(GROUPS % 10), config.parse(GROUPS % 10)
    view = live.for_group(first.pricing.groups["g"], first.pricing)
    assert view.get(1).rate == Decimal("0.90")
    assert live.for_group(same.pricing.groups["g"], same.pricing) is view
    assert live.for_group(first.pricing.groups["g"], first.pricing) is view


def test_a_reload_changing_the_group_or_the_rounding_rebuilds_its_view() -> None:
    live = catalog()
    before = config.parse(GROUPS % 10)
    view = live.for_group(before.pricing.groups["g"], before.pricing)
    deeper = config.parse(GROUPS % 60)
    assert live.for_group(deeper.pricing.groups["g"], deeper.pricing).get(1) is None  # 0.40
    coarser = config.parse((GROUPS % 10).replace("decimals: 2", "decimals: 0"))
    rebuilt = live.for_group(coarser.pricing.groups["g"], coarser.pricing)
    assert rebuilt is not view
    assert rebuilt.get(1).rate == Decimal("1")


def test_customers_in_one_group_and_tier_share_a_view_and_each_tier_has_its_own() -> None:
    live, terms = catalog(), config.parse(GROUPS % 10).pricing
    group = terms.groups["g"]
    tier = live.for_group(group, terms, Decimal(20))
    assert live.for_group(group, terms, Decimal(20)) is tier
    assert tier.get(1).rate == Decimal("0.72")  # 0.90 less 20 %
    assert live.for_group(group, terms) is not tier
    assert live.for_group(group, terms).get(1).rate == Decimal("0.90")


def test_a_tier_never_sells_below_cost_nor_takes_a_service_off_sale() -> None:
    live, terms = catalog(), config.parse(GROUPS % 10).pricing
    # 0.90 less 50 % is 0.45, below the 0.50 cost: the group's rate stays.
    assert live.for_group(terms.groups["g"], terms, Decimal(50)).get(1).rate == Decimal("0.90")


def test_a_customer_discount_applies_on_top_of_its_tier_and_a_fixed_rate_replaces_both() -> None:
    live, terms = catalog(), config.parse(GROUPS % 10).pricing
    group = terms.groups["g"]
    discount = (PriceOverride(1, discount_percent=Decimal(10)),)
    assert live.for_customer(group, Decimal(20), discount, terms).get(1).rate == Decimal("0.65")
    fixed = (PriceOverride(1, rate=Decimal("0.80")),)
    assert live.for_customer(group, Decimal(20), fixed, terms).get(1).rate == Decimal("0.80")
