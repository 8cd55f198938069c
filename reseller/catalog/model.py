"""The local service catalog: what customers see in `services` and may order, and the
providers' offers it is built from.

The catalog lives in the `services` table, written by `catalog_sync` from the config and the
providers' offers. The API reads it through `load`, which also encodes the `services` answer
once per change instead of once per request.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from decimal import Decimal

import orjson

from reseller import currencies, db, money
from reseller.catalog import customer_prices, groups
from reseller.catalog.customer_prices import PriceOverride
from reseller.config.catalog import PricingConfig
from reseller.config.groups import GroupConfig
from reseller.db import Q


@dataclass(frozen=True, slots=True)
class Offer:
    """One service a provider offers, as the catalog builder reads it (`catalog.sync` makes
    them from the upstream client's answers and from the stored offers)."""

    id: str  # the provider's service ID
    name: str
    type: str
    category: str
    rate: Decimal  # per 1000 (or per package), in the provider's currency
    min: int
    max: int
    refill: bool
    cancel: bool
    dripfeed: bool


@dataclass(frozen=True, slots=True)
class Service:
    id: int
    name: str
    type: str
    category: str
    rate: Decimal  # per 1000 units, or per package for package types
    min: int
    max: int
    refill: bool
    cancel: bool
    dripfeed: bool
    # The primary candidate's cost in the base currency (None: not known); never in answers.
    cost: Decimal | None = None
    allow_overlap: bool = False  # orders may run side by side on one link; never in answers
    # Its drip-feed is ours (orders.drip): the upstream has none. Never in answers.
    dripfeed_emulated: bool = False

    def as_api(self) -> dict[str, object]:
        return {
            "service": self.id,
            "name": self.name,
            "type": self.type,
            "category": self.category,
            "rate": money.format_amount(self.rate),
            "min": str(self.min),
            "max": str(self.max),
            "refill": self.refill,
            "cancel": self.cancel,
            "dripfeed": self.dripfeed,
        }


class Catalog:
    """An immutable snapshot of the enabled services, with the encoded `services` answer."""

    def __init__(self, services: Iterable[Service]) -> None:
        self._by_id = {s.id: s for s in services}
        self.encoded = orjson.dumps([s.as_api() for s in self._by_id.values()])
        self._views: dict[tuple[Decimal, int], Catalog] = {}
        # (group name, tier discount) → (its config, the pricing terms, its view): for_group
        self._groups: dict[
            tuple[str, Decimal], tuple[GroupConfig, tuple[Decimal, int, str], Catalog]
        ] = {}
        # (group name, tier discount, overrides) → (its config, the pricing terms, the view)
        self._customers: dict[
            tuple[str | None, Decimal, tuple[PriceOverride, ...]],
            tuple[GroupConfig | None, tuple[Decimal, int, str], Catalog],
        ] = {}

    def for_group(
        self, group: GroupConfig, terms: PricingConfig, tier: Decimal = Decimal(0)
    ) -> Catalog:
        """The catalog as the group's customers in spend tier `tier` (its discount, percent)
        see it (base currency): only the services it lets them see that sell at or above cost
        at its rates. Built once per group, tier and config: a reload changing neither keeps
        the view (`priced_in` views included)."""
        rounding = (terms.min_rate, terms.decimals, terms.rounding)
        key = (group.name, tier)
        cached = self._groups.get(key)
        if cached is not None and cached[1] == rounding:
            if cached[0] is group:
                return cached[2]
            if cached[0] == group:  # a reload that did not change it
                self._groups[key] = (group, rounding, cached[2])
                return cached[2]
        view = Catalog(self._group_services(group, terms, tier))
        self._groups[key] = (group, rounding, view)
        return view

    def _group_services(
        self, group: GroupConfig, terms: PricingConfig, tier: Decimal
    ) -> Iterator[Service]:
        for s in self._by_id.values():
            if not groups.visible(group, s.id, s.category):
                continue
            rate = groups.group_rate(s.rate, groups.rule_for(group, s.id, s.category), terms)
            if groups.sellable(rate, s.cost, s.rate):
                yield replace(s, rate=groups.tier_rate(rate, tier, s.cost, terms))

    def for_customer(
        self,
        group: GroupConfig | None,
        tier: Decimal,
        overrides: tuple[PriceOverride, ...],
        terms: PricingConfig,
    ) -> Catalog:
        """The catalog as a customer with its own overrides sees it (base currency): its
        group's view at its tier (or this one), each overridden service at its override's
        rate where that sells at or above cost and left out where not. Built once per group,
        tier and set of overrides: customers sharing all three share the view and its encoded
        answer."""
        rounding = (terms.min_rate, terms.decimals, terms.rounding)
        key = (group.name if group is not None else None, tier, overrides)
        cached = self._customers.get(key)
        if (
            cached is not None
            and cached[1] == rounding
            and (cached[0] is group or cached[0] == group)
        ):
            return cached[2]
        view = Catalog(self._customer_services(group, tier, overrides, terms))
        self._customers[key] = (group, rounding, view)
        return view

    def _customer_services(
        self,
        group: GroupConfig | None,
        tier: Decimal,
        overrides: tuple[PriceOverride, ...],
        terms: PricingConfig,
    ) -> Iterator[Service]:
        otherwise = self.for_group(group, terms, tier) if group is not None else self
        by_service = {o.service_id: o for o in overrides}
        for s in self._by_id.values():  # in the catalog's order
            override = by_service.get(s.id)
            if override is None:
                found = otherwise.get(s.id)
                if found is not None:
                    yield found
                continue
            rate = customer_prices.rate(s, group, tier, override, terms)
            if customer_prices.off_sale(s, group, rate) is None:
                yield replace(s, rate=rate)

    def priced_in(self, rate: Decimal, *, decimals: int) -> Catalog:
        """The catalog as a customer paying in a currency worth `rate` (base units each) sees
        it: every rate converted and rounded up. Built once per rate; a new rate (a reload)
        makes a new view, and orders already placed keep the charge they were made at."""
        if rate == 1:
            return self
        view = self._views.get((rate, decimals))
        if view is None:
            view = Catalog(
                replace(s, rate=currencies.sell_rate(s.rate, rate, decimals=decimals))
                for s in self._by_id.values()
            )
            self._views[(rate, decimals)] = view
        return view

    def get(self, service_id: int) -> Service | None:
        return self._by_id.get(service_id)

    def __len__(self) -> int:
        return len(self._by_id)


async def load(pool: db.Database) -> Catalog:
    rows = await pool.fetch(Q.enabled_services)
    return Catalog(
        Service(
            id=r["id"],
            name=r["name"],
            type=r["type"],
            category=r["category"],
            rate=r["rate"],
            min=r["min_quantity"],
            max=r["max_quantity"],
            refill=r["refill"],
            cancel=r["cancel"],
            dripfeed=r["dripfeed"],
            cost=r["cost"],
            allow_overlap=r["allow_overlap"],
            dripfeed_emulated=r["dripfeed_emulated"],
        )
        for r in rows
    )


class LiveCatalog:
    """The catalog the API serves now; replaced whole when the `services` table changes
    (a sync or a reload in this process or any other)."""

    def __init__(self) -> None:
        self.current = Catalog(())
        self._version: str | None = None

    async def refresh(self, pool: db.Database) -> bool:
        """Reload if the table changed since the last look; whether it did."""
        version = await pool.fetchval(Q.catalog_version)
        if version == self._version:
            return False
        self.current, self._version = await load(pool), version
        return True
