"""Money is Decimal end to end, quantised here and nowhere else."""

from __future__ import annotations

import functools
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal, InvalidOperation

# Five decimals, as stored (NUMERIC(20, 5)) and as the API answers.
STEP = Decimal("0.00001")
# NUMERIC(20, 5) holds 15 integer digits; refuse anything that would not fit.
LIMIT = Decimal("1e15")


def quantize(amount: Decimal) -> Decimal:
    """Round half-up to the stored precision (prices, charges)."""
    return amount.quantize(STEP, rounding=ROUND_HALF_UP)


def quantize_down(amount: Decimal) -> Decimal:
    """Round toward zero: for refunds, which must never exceed what is owed."""
    return amount.quantize(STEP, rounding=ROUND_DOWN)


def parse_amount(text: str) -> Decimal:
    """Parse a decimal amount typed by a human; ValueError with a clear message otherwise."""
    try:
        amount = Decimal(text.strip())
    except (InvalidOperation, AttributeError):
        raise ValueError(f"not a decimal amount: {text!r}") from None
    if not amount.is_finite():
        raise ValueError(f"not a decimal amount: {text!r}")
    if abs(amount) >= LIMIT:  # checked first: quantising a huge value overflows
        raise ValueError(f"amount too large: {text!r}")
    if amount != quantize(amount):
        raise ValueError(f"more than 5 decimals: {text!r}")
    return amount


@functools.lru_cache(maxsize=8192)  # the same prices and charges are formatted over and over
def format_amount(amount: Decimal) -> str:
    """The API's money string: up to 5 decimals, trailing zeros trimmed but at least 2 ("0.90")."""
    text = f"{quantize(amount):f}"
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0").ljust(2, "0")
    return f"{whole}.{frac}"


def charge_for(rate: Decimal, units: int, *, per_package: bool = False) -> Decimal:
    """What an order costs: rate per 1000 units (or per package), rounded up to the stored step
    so a sale never comes out below its price."""
    amount = rate if per_package else rate * units / 1000
    return amount.quantize(STEP, rounding=ROUND_UP)
