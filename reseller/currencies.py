"""Customers' currencies: the base currency is `api.currency`; any other needs a rate in
`currency_rates` (the value of 1 unit in the base currency), as for providers.

A customer sees, pays and is refunded in their own currency. Their sell rate is the base sell
rate converted and rounded **up**, so what they pay is worth at least the base price, which the
catalog keeps at or above the upstream cost: converting never sells below cost.
"""

from __future__ import annotations

from decimal import ROUND_UP, Decimal

from reseller import errors, money
from reseller.config import Config


class NoRate(errors.ResellerError):
    """No rate for this currency"""


def parse_code(text: str) -> str:
    """A currency code typed by a person: three capital letters (USD)."""
    if len(text) != 3 or not text.isalpha() or not text.isupper():
        raise ValueError(f"not a 3-letter currency code: {text!r}")
    return text


def rate_of(config: Config, currency: str) -> Decimal | None:
    """What 1 unit of `currency` is worth in the base currency; None: no rate configured."""
    if currency == config.api.currency:
        return Decimal(1)
    return config.currency_rates.get(currency)


def require_rate(config: Config, currency: str) -> Decimal:
    rate = rate_of(config, currency)
    if rate is None:
        base = config.api.currency
        raise NoRate(
            f"no rate for {currency} in currency_rates: add `{currency}: <value of 1 {currency}"
            f" in {base}>` to currency_rates in the config file, or use {base}"
        )
    return rate


def sell_rate(base_rate: Decimal, rate: Decimal, *, decimals: int) -> Decimal:
    """A base-currency sell rate in a currency worth `rate` each, rounded up to `decimals`
    (the catalog's rounding), never finer than the stored step."""
    step = max(Decimal(1).scaleb(-decimals), money.STEP)
    return (base_rate / rate).quantize(step, rounding=ROUND_UP)


def to_base(amount: Decimal, rate: Decimal) -> Decimal:
    return amount * rate


def unpriced_customers(config: Config, currencies: list[str]) -> list[str]:
    """Problems for the customers' currencies the config has no rate for."""
    return [
        f"currency_rates: no rate for {code}, the currency of existing customers"
        for code in sorted(set(currencies))
        if rate_of(config, code) is None
    ]
