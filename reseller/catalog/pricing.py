"""Sell rates from upstream costs: markup or fixed rate, most specific rule wins, then a floor
and a rounding rule. Pure functions over Decimal; the catalog builder decides what to do with
a price below cost (disable the service, never sell at a loss)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal
from fnmatch import fnmatchcase

from reseller.config import ProviderConfig
from reseller.config.catalog import PricingConfig

_MODES = {"up": ROUND_UP, "half_up": ROUND_HALF_UP, "down": ROUND_DOWN}


def convert(rate: Decimal, currency: str, *, rates: dict[str, Decimal], base: str) -> Decimal:
    """A provider's rate in our currency (`rates[c]` = value of 1 c in `base`)."""
    return rate if currency == base else rate * rates[currency]


def currency_mismatch(provider: str, configured: str, reported: str | None) -> str | None:
    """Why `convert` cannot be trusted for a provider: its answers name another currency than
    its config (costs would be converted at the wrong rate). No currency named: no mismatch."""
    named = (reported or "").strip().upper()
    if not named or named == configured.upper():
        return None
    return f"provider {provider} reports currency {named}, configured {configured}"


def currency_mismatches(
    providers: Iterable[ProviderConfig], reported: Mapping[str, str]
) -> dict[str, str]:
    """provider → why its services are off sale, for each whose currencies disagree."""
    found = {p.name: currency_mismatch(p.name, p.currency, reported.get(p.name)) for p in providers}
    return {name: why for name, why in found.items() if why is not None}


def markup_for(
    pricing: PricingConfig,
    *,
    provider: str,
    category: str,
    service_markup: Decimal | None = None,
) -> Decimal:
    """Most specific wins: service (or import) > category glob (first match) > provider >
    default."""
    if service_markup is not None:
        return service_markup
    for glob, markup in pricing.categories:
        if fnmatchcase(category.lower(), glob.lower()):
            return markup
    return pricing.providers.get(provider, pricing.markup_percent)


def sell_rate(cost: Decimal, markup_percent: Decimal, pricing: PricingConfig) -> Decimal:
    """cost × (1 + markup), raised to the floor, rounded by the configured rule."""
    rate = max(cost * (1 + markup_percent / 100), pricing.min_rate)
    return round_rate(rate, pricing)


def round_rate(rate: Decimal, pricing: PricingConfig) -> Decimal:
    step = Decimal(1).scaleb(-pricing.decimals)
    return rate.quantize(step, rounding=_MODES[pricing.rounding])
