"""Turning what real panels send into typed values.

Panels send numbers as strings or numbers, statuses in many spellings (`Cancelled`,
`in_progress`, `Refunded` …), `order` or `order_id`, per-ID errors as objects or bare strings,
`remains` negative or "Unknown". Everything here is lenient about form and strict about meaning:
a value that cannot be understood is None (or an UpstreamUnknown for a whole answer), never a
guess. Whether the values understood may move money is `orders.strict`'s question.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from reseller import errors
from reseller.spellings import status_name


@dataclass(frozen=True, slots=True)
class StatusAnswer:
    status: str | None  # normalised; None: a spelling we do not know (orders.strict)
    charge: Decimal | None
    start_count: int | None
    remains: int | None  # None: unknown ("Unknown", missing); a negative one is kept as sent
    currency: str | None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)  # as the panel sent it


def decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def integer(value: Any) -> int | None:
    number = decimal(value)
    if number is None or number != number.to_integral_value():
        return None
    return int(number)


def upstream_id(value: Any) -> str | None:
    """An upstream order/refill ID as text: panels send 123, "123" or 123.0."""
    number = integer(value)
    if number is not None and number >= 0:
        return str(number)
    if isinstance(value, str) and value.strip() and len(value) <= 100 and value.isprintable():
        return value.strip()
    return None


def error_of(answer: Any) -> str | None:
    """The panel's refusal message, when the answer is one."""
    if isinstance(answer, dict) and "error" in answer:
        message = answer["error"]
        return str(message) if message not in (None, "") else "error"
    return None


def order_status(answer: Any, aliases: Mapping[str, str] | None = None) -> StatusAnswer:
    if isinstance(answer, str):  # a bare per-ID error string ("Incorrect order ID")
        raise ValueError(answer)
    if not isinstance(answer, dict):
        raise errors.UpstreamUnknown(f"status answer is not an object: {_preview(answer)}")
    return StatusAnswer(
        status=status_name(answer.get("status"), aliases),
        charge=decimal(answer.get("charge")),
        start_count=integer(answer.get("start_count")),
        remains=integer(answer.get("remains")),
        currency=str(answer["currency"]) if answer.get("currency") else None,
        raw=answer,
    )


def added_order_id(answer: Any) -> str:
    """The ID in an `add` answer: `{"order": N}` or `{"order_id": N}`."""
    if isinstance(answer, dict):
        for name in ("order", "order_id", "id"):
            if (found := upstream_id(answer.get(name))) is not None:
                return found
    raise errors.UpstreamUnknown(f"add answer without an order ID: {_preview(answer)}")


def _preview(answer: Any) -> str:
    text = repr(answer)
    return text if len(text) <= 200 else text[:200] + "…"
