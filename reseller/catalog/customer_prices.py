"""Per-customer overrides (`reseller customers price`): a fixed sell rate or a discount on
the rate the customer would otherwise pay (its group's, or the price list's). Pure functions
over Decimal; `Catalog.for_customer` applies them once per distinct set of overrides.

An override prices a service the customer can see; it never unhides one its group hides
(the group's allow- or deny-list is the operator's word on what that customer may buy)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from reseller import money
from reseller.catalog import groups, pricing
from reseller.config.catalog import PricingConfig
from reseller.config.groups import GroupConfig


class Service(Protocol):
    """What pricing reads of a catalog service (`model.Service`, which builds its views with
    these functions)."""

    @property
    def id(self) -> int: ...
    @property
    def category(self) -> str: ...
    @property
    def rate(self) -> Decimal: ...
    @property
    def cost(self) -> Decimal | None: ...


@dataclass(frozen=True, slots=True)
class PriceOverride:
    """Exactly one of a sell rate (base currency) and a discount in percent."""

    service_id: int
    rate: Decimal | None = None
    discount_percent: Decimal | None = None

    def describe(self) -> str:
        if self.rate is not None:
            return f"rate {money.format_amount(self.rate)}"
        return f"discount {(self.discount_percent or Decimal(0)).normalize():f}%"


def otherwise(
    service: Service, group: GroupConfig | None, tier: Decimal, terms: PricingConfig
) -> Decimal:
    """What the customer would pay without the override: its group's rate less its spend
    tier's discount (`tier`, in percent), or the list's."""
    if group is None:
        return service.rate
    rule = groups.rule_for(group, service.id, service.category)
    rate = groups.group_rate(service.rate, rule, terms)
    return groups.tier_rate(rate, tier, service.cost, terms)


def rate(
    service: Service,
    group: GroupConfig | None,
    tier: Decimal,
    override: PriceOverride,
    terms: PricingConfig,
) -> Decimal:
    """The overridden sell rate: a fixed rate as written (the partner's deal, tier or not), a
    discount on what the customer would otherwise pay rounded like every sell rate; never
    below the floor."""
    if override.rate is not None:
        return max(override.rate, terms.min_rate)
    discount = override.discount_percent or Decimal(0)
    discounted = otherwise(service, group, tier, terms) * (1 - discount / 100)
    return pricing.round_rate(max(discounted, terms.min_rate), terms)


def off_sale(service: Service, group: GroupConfig | None, sell_rate: Decimal) -> str | None:
    """Why the service is not sold to the customer at `sell_rate` (None: it is)."""
    if group is not None and not groups.visible(group, service.id, service.category):
        return f"hidden by group {group.name}"
    if groups.sellable(sell_rate, service.cost, service.rate):
        return None
    shown = money.format_amount(sell_rate)
    if service.cost is None:
        return f"rate {shown} below the price list's {money.format_amount(service.rate)}"
    return f"rate {shown} below cost {money.format_amount(service.cost)}"
