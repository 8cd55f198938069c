"""The provider check's arithmetic: what an order should finally cost upstream, and how what
the provider kept beyond it is classified."""

from __future__ import annotations

from decimal import Decimal

from reseller.orders import provider_check

CENT = Decimal("0.01")


def order(status: str, cost: str, *, remains: int = 0, type: str = "Default", settled=True):
    return {
        "id": 1,
        "provider": "sim",
        "status": status,
        "settled": settled,
        "remains": remains,
        "cost": Decimal(cost),
        "upstream_rate": Decimal("0.90"),
        "units": 1000,
        "runs": 1,
        "type": type,
    }


def found(row) -> list[tuple[str, str, str]]:
    return [
        (x.kind, str(x.expected.normalize()), str(x.at_stake.normalize()))
        for x in provider_check.losses(row, tolerance=CENT)
    ]


def test_what_a_settled_order_should_cost() -> None:
    full = provider_check.full_cost(Decimal("0.90"), units=1000, runs=1, per_package=False)
    assert full == Decimal("0.9")
    assert provider_check.full_cost(Decimal(5), units=1, runs=2, per_package=True) == 10

    def delivered(status: str, remains: int, per_package: bool = False) -> Decimal | None:
        return provider_check.delivered_cost(
            full, status=status, units=1000, remains=remains, per_package=per_package
        )

    assert delivered("Completed", 0) == full
    assert delivered("Canceled", 1000) == 0
    assert delivered("Partial", 400) == Decimal("0.54")
    assert delivered("Partial", 0, per_package=True) is None  # a package's own unit: unknown


def test_a_fair_charge_and_rounding_are_no_loss() -> None:
    assert found(order("Completed", "0.9")) == []
    assert found(order("Partial", "0.54001", remains=400)) == []  # the panel rounded down
    assert found(order("Canceled", "0", remains=1000)) == []
    assert found(order("Completed", "0.909")) == []  # under a cent


def test_a_charge_that_did_not_come_down_is_unrefunded_and_above_the_rate_overcharged() -> None:
    assert found(order("Partial", "0.9", remains=400)) == [("unrefunded", "0.54", "0.36")]
    assert found(order("Canceled", "0.99", remains=1000)) == [
        ("unrefunded", "0", "0.9"),
        ("overcharged", "0.9", "0.09"),
    ]
    # Came down, but not to the delivered share: refunded at a rate above ours.
    assert found(order("Partial", "0.648", remains=400)) == [("overcharged", "0.54", "0.108")]
    assert found(order("Completed", "1.08")) == [("overcharged", "0.9", "0.18")]


def test_an_order_not_settled_yet_owes_no_refund_but_may_be_overcharged() -> None:
    assert found(order("In progress", "0.9", remains=400, settled=False)) == []
    assert found(order("In progress", "1.08", remains=400, settled=False)) == [
        ("overcharged", "0.9", "0.18")
    ]


def test_a_package_partial_is_checked_for_overcharges_only() -> None:
    package = order("Partial", "0.9", remains=1, type="Package")
    package["units"] = 1
    assert found(package) == []  # 0.90 for the package: its rate, whatever it delivered
