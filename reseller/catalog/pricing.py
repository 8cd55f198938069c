"""The sell-rate rule, whole: from an upstream cost, a fixed rate or the most specific markup,
then a floor and a rounding rule, and a rate below cost takes the service off sale (never sold
at a loss). Pure functions over Decimal; `price` is the one the catalog builder calls."""

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


def price(
    cost: Decimal,
    pricing: PricingConfig,
    *,
    provider: str,
    category: str,
    markup_percent: Decimal | None = None,
    fixed_rate: Decimal | None = None,
) -> tuple[Decimal, str | None]:
    """The sell rate for `cost` (in our currency) and why it may not be sold, or None.

    A `fixed_rate` (the service's `rate`) is sold as written, raised to the floor but not
    rounded; otherwise the markup `markup_for` picks (`markup_percent`: the service's or the
    import rule's own) goes through `sell_rate`. Either way a rate below cost is off sale."""
    if fixed_rate is not None:
        rate = max(fixed_rate, pricing.min_rate)
    else:
        markup = markup_for(
            pricing, provider=provider, category=category, service_markup=markup_percent
        )
        rate = sell_rate(cost, markup, pricing)
    return rate, f"sell rate {rate} below cost {cost}" if rate < cost else None


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
