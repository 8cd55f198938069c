"""The strict answer table: which status answers may move an order's money.

`upstream.parse` is lenient about form (numbers as strings, known spellings); this is strict
about meaning. An answer outside what the order allows is a sign that the panel, or something
between us and it, is wrong, not a number to settle on: a status word we do not know, remains
below zero or above the order's units, a charge above the most the order can cost us. Its order
is frozen instead (`lifecycle.frozen`): money held, polled again, until a sane answer comes or
the operator resolves it. Per provider, `strict_answers: false` settles as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from reseller import money, service_types
from reseller.orders.upstream_match import ROUNDING
from reseller.upstream.parse import StatusAnswer


@dataclass(frozen=True, slots=True)
class Limits:
    """What an answer about one order must stay within."""

    units: int  # quantity × runs
    per_package: bool  # remains count the panel's own unit: not checked against `units`
    most_cost: Decimal | None  # in the provider's currency; None: its rate was not known

    @classmethod
    def of(cls, order: Mapping[str, Any]) -> Limits:
        """From an order row with total_quantity, runs, type and upstream_rate."""
        per_package = order["type"] in service_types.PACKAGE_TYPES
        rate, units = order["upstream_rate"], order["total_quantity"]
        most_cost = None
        if rate is not None:
            most_cost = rate * (order["runs"] or 1) if per_package else rate * units / 1000
        return cls(units, per_package, most_cost)


def outside(answer: StatusAnswer, limits: Limits) -> str | None:
    """Why this answer is outside the table for the order, or None when it may be used."""
    if answer.status is None:
        word = answer.raw.get("status")
        return "no status" if word in (None, "") else f"unknown status {str(word)[:50]!r}"
    if answer.remains is not None and answer.remains < 0:
        return f"negative remains {answer.remains}"
    if not limits.per_package and answer.remains is not None and answer.remains > limits.units:
        return f"remains {answer.remains} above the order's {limits.units}"
    cost, charge = limits.most_cost, answer.charge
    if cost is not None and charge is not None and charge > cost + ROUNDING:
        return (
            f"charge {money.format_amount(charge)} above the most the order can cost,"
            f" {money.format_amount(cost)}"
        )
    return None
