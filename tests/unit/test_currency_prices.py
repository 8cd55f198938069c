"""A price converted to a customer's currency is never worth less than the upstream cost."""

from __future__ import annotations

from decimal import ROUND_UP, Decimal

from hypothesis import given
from hypothesis import strategies as st

from reseller import currencies, money


@given(
    base=st.decimals(min_value="0.00001", max_value="100000", places=5),
    markup=st.decimals(min_value="0", max_value="5", places=3),
    rate=st.decimals(min_value="0.000001", max_value="100000", places=6),
    units=st.integers(min_value=1, max_value=10_000_000),
    decimals=st.integers(min_value=0, max_value=5),
)
def test_a_converted_price_is_never_below_the_upstream_cost(
    base, markup, rate, units, decimals
) -> None:
    cost_rate = base
    sell = (cost_rate * (1 + markup)).quantize(Decimal("0.00001"), rounding=ROUND_UP)
    converted = currencies.sell_rate(sell, rate, decimals=decimals)
    charge = money.charge_for(converted, units)
    assert converted * rate >= sell
    assert charge * rate >= cost_rate * units / 1000
