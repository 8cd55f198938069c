"""The routing rule (routing/choose.py) and the per-order route (routing/assign.py), as
examples: each mode's pick, the floors, exploration."""

from __future__ import annotations

from decimal import Decimal

from reseller.config.routing import FloorsConfig
from reseller.routing import assign, choose
from reseller.routing.quality import Quality

FLOORS = FloorsConfig(min_orders=10, delivered_share=Decimal("0.8"), uncertain_rate=Decimal("0.05"))


def quality(
    delivered: int, *, settled: int = 20, finish: str = "60", uncertain: int = 0
) -> Quality:
    """`delivered` units of every 100 ordered, over `settled` orders."""
    return Quality(
        provider="p",
        upstream_service="1",
        sent=settled,
        refused=0,
        uncertain=uncertain,
        settled=settled,
        completed=settled,
        partial=0,
        canceled=0,
        ordered_units=100 * settled,
        delivered_units=delivered * settled,
        cost=Decimal(0),
        start_p50=None,
        start_p90=None,
        finish_p50=Decimal(finish),
        finish_p90=None,
        refills=0,
        refills_accepted=0,
        refills_completed=0,
        refills_final=0,
    )


def candidate(priority: int, cost: str, q: Quality | None) -> choose.Candidate:
    return choose.Candidate(priority, f"p{priority}", "1", Decimal(cost), q)


# Cheap but delivers 85 %, dear and delivers all fast, middling and delivers 95 % slowly.
THREE = [
    candidate(0, "1.00", quality(85)),
    candidate(1, "1.40", quality(100, finish="30")),
    candidate(2, "1.10", quality(95, finish="90")),
]


def test_fixed_keeps_priority_order() -> None:
    found = choose.plan(THREE, "fixed", FLOORS)
    assert found.route == (0, 1, 2)
    assert found.explore is None
    assert found.reason == "fixed: priority order"


def test_cheapest_is_lowest_cost_per_delivered_unit() -> None:
    # 1.00 / 0.85 = 1.176, 1.40 / 1 = 1.4, 1.10 / 0.95 = 1.158
    found = choose.plan(THREE, "cheapest", FLOORS)
    assert found.route == (2, 0, 1)
    assert found.reason == "cheapest: 1.15789 per 1000 delivered"


def test_best_is_highest_delivered_share_then_speed() -> None:
    assert choose.plan(THREE, "best", FLOORS).route == (1, 2, 0)
    same_share = [candidate(0, "1", quality(100, finish="90")), candidate(1, "1", quality(100))]
    assert choose.plan(same_share, "best", FLOORS).route == (1, 0)


def test_balanced_weighs_price_and_quality_half_each() -> None:
    # price score: lowest effective cost 1.158 ÷ own; quality score: delivered share.
    # 0: 0.5 × 0.984 + 0.5 × 0.85 = 0.917; 1: 0.5 × 0.827 + 0.5 = 0.914; 2: 0.5 + 0.475 = 0.975
    assert choose.plan(THREE, "balanced", FLOORS).route == (2, 0, 1)


def test_a_candidate_below_a_floor_is_demoted_and_tried_last() -> None:
    poor = [candidate(0, "0.5", quality(70)), candidate(1, "1", quality(100))]
    found = choose.plan(poor, "fixed", FLOORS)
    assert found.route == (1, 0)
    assert found.demoted == (0,)
    uncertain = [candidate(0, "0.5", quality(100, uncertain=2)), candidate(1, "1", quality(100))]
    assert choose.plan(uncertain, "cheapest", FLOORS).demoted == (0,)
    assert "uncertain rate 0.100 above floor 0.05" in str(choose.demotion(uncertain[0], FLOORS))


def test_too_few_orders_is_not_judged_but_explored() -> None:
    few = [candidate(0, "1", quality(100)), candidate(1, "0.1", quality(10, settled=3))]
    found = choose.plan(few, "cheapest", FLOORS)
    assert found.route == (0, 1)
    assert found.demoted == ()
    assert found.explore == 1


def test_nothing_measured_is_priority_order_with_the_second_explored() -> None:
    found = choose.plan([candidate(0, "2", None), candidate(1, "1", None)], "cheapest", FLOORS)
    assert (found.route, found.explore) == ((0, 1), 1)
    assert found.reason == "cheapest: none measured yet"


def test_every_nth_order_goes_to_the_explored_candidate_first() -> None:
    routes = [assign.route_for(i, (0, 1, 2), 2, 20, (0, 1, 2)) for i in range(1, 201)]
    explored = [r for r in routes if r[0] == 2]
    assert len(explored) == 10  # 5 %
    assert all(r == [2, 0, 1] for r in explored)


def test_a_route_names_only_the_candidates_the_service_has_now() -> None:
    assert assign.route_for(1, (2, 0, 1), None, 20, (0, 1, 3)) == [0, 1, 3]
