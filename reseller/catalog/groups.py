"""What a price group's customers see: which services, at which rates. Pure functions over
Decimal; `Catalog.for_group` applies them once per group and catalog."""

from __future__ import annotations

from decimal import Decimal
from fnmatch import fnmatchcase

from reseller.catalog import pricing
from reseller.config.catalog import PricingConfig
from reseller.config.groups import GroupConfig, PriceRule


def visible(group: GroupConfig, service_id: int, category: str) -> bool:
    """Whether the group's allow- or deny-list lets its customers see the service."""
    if group.allow is not None:
        return _listed(group.allow, service_id, category)
    return not _listed(group.deny, service_id, category)


def rule_for(group: GroupConfig, service_id: int, category: str) -> PriceRule:
    """Most specific wins: the service's > the first matching category glob's > the group's."""
    rule = group.services.get(service_id)
    if rule is not None:
        return rule
    for glob, by_category in group.categories:
        if fnmatchcase(category.lower(), glob.lower()):
            return by_category
    return group.rule


def group_rate(base_rate: Decimal, rule: PriceRule, terms: PricingConfig) -> Decimal:
    """The group's sell rate from the price list's (`base_rate`): a fixed rate as written, a
    discount or markup rounded like every sell rate; never below the floor."""
    if rule.rate is not None:
        return max(rule.rate, terms.min_rate)
    if rule.discount_percent is not None:
        rate = base_rate * (1 - rule.discount_percent / 100)
    elif rule.markup_percent is not None:
        rate = base_rate * (1 + rule.markup_percent / 100)
    else:
        return base_rate
    return pricing.round_rate(max(rate, terms.min_rate), terms)


def tier_rate(
    group_rate: Decimal, tier_percent: Decimal, cost: Decimal | None, terms: PricingConfig
) -> Decimal:
    """The group's rate less the customer's spend-tier discount, rounded like every sell rate,
    where that still sells at or above cost; elsewhere the group's rate: a tier earns a
    discount, it never takes a service off sale nor sells one at a loss (nor one whose cost
    is not known yet)."""
    if not tier_percent or cost is None:
        return group_rate
    discounted = group_rate * (1 - tier_percent / 100)
    rate = pricing.round_rate(max(discounted, terms.min_rate), terms)
    return rate if rate >= cost else group_rate


def sellable(rate: Decimal, cost: Decimal | None, base_rate: Decimal) -> bool:
    """Never at a loss: at or above the upstream cost. A cost not known yet (a static price
    before its first sync) allows nothing below the price list, which sells it as written."""
    return rate >= (base_rate if cost is None else cost)


def _listed(entries: tuple[int | str, ...], service_id: int, category: str) -> bool:
    return any(
        entry == service_id
        if isinstance(entry, int)
        else fnmatchcase(category.lower(), entry.lower())
        for entry in entries
    )
