"""What a final status owes back: the refund rule, without a database."""

from __future__ import annotations

from decimal import Decimal

import pytest

from reseller.orders import refunds
from reseller.upstream.parse import StatusAnswer


def test_partial_refund_rounds_down_and_never_exceeds_the_charge() -> None:
    answer = StatusAnswer("Partial", None, None, 1, None)
    assert refunds.owed_back(Decimal("0.01359"), 11, answer) == Decimal("0.00123")  # 0.0012354…
    everything = StatusAnswer("Partial", None, None, 100, None)
    assert refunds.owed_back(Decimal("0.90"), 100, everything) == Decimal("0.90")
    assert refunds.owed_back(
        Decimal("0.90"), 100, StatusAnswer("Canceled", None, None, 0, None)
    ) == (Decimal("0.90"))


@pytest.mark.parametrize("remains", [None, -5, 0, 101])
def test_a_partial_whose_remains_cannot_be_used_is_never_settled_on(remains) -> None:
    answer = StatusAnswer("Partial", None, None, remains, None)
    assert refunds.unusable(answer, 100) is not None
    with pytest.raises(ValueError, match="cannot settle"):
        refunds.owed_back(Decimal("0.90"), 100, answer)
