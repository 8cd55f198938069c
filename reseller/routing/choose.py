"""Which candidate a local service tries first, and why. Pure: no I/O.

A candidate is *measured* once it has `floors.min_orders` settled orders in the window; only
measured figures are judged. Then:

- demoted: measured with a delivered share below `floors.delivered_share`, or an uncertain
  rate above `floors.uncertain_rate`; tried last, whatever the mode;
- `fixed`: priority order (as the config lists them);
- `cheapest`: lowest effective cost per delivered unit, `cost_rate ÷ delivered share`;
- `best`: highest delivered share, then fastest median finish;
- `balanced`: highest `0.5 × price score + 0.5 × quality score`, where price score =
  lowest effective cost among the ranked ÷ own effective cost (1 for the cheapest) and quality
  score = delivered share × (1 − uncertain rate).

Outside `fixed`, measured candidates come first in the mode's order, then the unmeasured ones
(priority order), then the demoted ones (with nothing measured yet: priority order). The first
unmeasured candidate not already first (else the first demoted one, so a recovery can be seen)
is explored: given every Nth order first (`assign.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from reseller.config.routing import FloorsConfig
from reseller.routing.quality import Quality

_HALF = Decimal("0.5")
_NEVER = Decimal("Infinity")


@dataclass(frozen=True, slots=True)
class Candidate:
    priority: int
    provider: str
    upstream_service: str
    cost_rate: Decimal | None  # in our currency; None: not offered now
    quality: Quality | None

    @property
    def name(self) -> str:
        return f"{self.provider}:{self.upstream_service}"


@dataclass(frozen=True, slots=True)
class Plan:
    route: tuple[int, ...]  # priorities, first tried first
    explore: int | None  # the priority explored every Nth order
    demoted: tuple[int, ...]
    reason: str  # why the first is first


def plan(candidates: Sequence[Candidate], mode: str, floors: FloorsConfig) -> Plan:
    ordered = sorted(candidates, key=lambda c: c.priority)
    demoted = [c for c in ordered if demotion(c, floors) is not None]
    healthy = [c for c in ordered if c not in demoted]
    measured = [c for c in healthy if _measured(c, floors) and c.cost_rate is not None]
    unmeasured = [c for c in healthy if c not in measured]
    explore = None
    if mode == "fixed" or not measured:
        route = healthy + demoted
        why = "fixed: priority order" if mode == "fixed" else f"{mode}: none measured yet"
    else:
        ranked = sorted(measured, key=_RANKING[mode](measured))
        route = ranked + unmeasured + demoted
        why = _why(mode, ranked[0])
    if mode != "fixed":
        explore = next((c.priority for c in [*unmeasured, *demoted] if c != route[0]), None)
    if route and route[0] in demoted:
        why = f"every candidate demoted; {demotion(route[0], floors)}"
    return Plan(
        route=tuple(c.priority for c in route),
        explore=explore,
        demoted=tuple(c.priority for c in demoted),
        reason=why,
    )


def demotion(candidate: Candidate, floors: FloorsConfig) -> str | None:
    """Why a measured candidate falls below the floors, or None."""
    q = candidate.quality
    if q is None or not _measured(candidate, floors):
        return None
    share, uncertain = q.delivered_share, q.uncertain_rate
    if share is not None and share < floors.delivered_share:
        return f"delivered share {share:.3f} below floor {floors.delivered_share}"
    if uncertain is not None and uncertain > floors.uncertain_rate:
        return f"uncertain rate {uncertain:.3f} above floor {floors.uncertain_rate}"
    return None


def effective_cost(candidate: Candidate) -> Decimal:
    """cost_rate ÷ delivered share: what a delivered unit really costs."""
    q = candidate.quality
    share = q.delivered_share if q is not None else None
    if candidate.cost_rate is None or not share:
        return _NEVER
    return candidate.cost_rate / share


def _measured(candidate: Candidate, floors: FloorsConfig) -> bool:
    q = candidate.quality
    return q is not None and q.settled >= floors.min_orders


def _share(c: Candidate) -> Decimal:
    return (c.quality.delivered_share if c.quality else None) or Decimal(0)


def _finish(c: Candidate) -> Decimal:
    return (c.quality.finish_p50 if c.quality else None) or _NEVER


def balanced_score(candidate: Candidate, lowest_cost: Decimal) -> Decimal:
    own = effective_cost(candidate)
    price = Decimal(0) if own == _NEVER else lowest_cost / own
    q = candidate.quality
    uncertain = (q.uncertain_rate if q else None) or Decimal(0)
    return _HALF * price + _HALF * _share(candidate) * (1 - uncertain)


Key = Callable[[Candidate], tuple[Decimal, ...]]


def _cheapest(_: Sequence[Candidate]) -> Key:
    return lambda c: (effective_cost(c), Decimal(c.priority))


def _best(_: Sequence[Candidate]) -> Key:
    return lambda c: (-_share(c), _finish(c), Decimal(c.priority))


def _balanced(ranked: Sequence[Candidate]) -> Key:
    lowest = min(effective_cost(c) for c in ranked)
    return lambda c: (-balanced_score(c, lowest), Decimal(c.priority))


_RANKING: dict[str, Callable[[Sequence[Candidate]], Key]] = {
    "cheapest": _cheapest,
    "best": _best,
    "balanced": _balanced,
}


def _why(mode: str, first: Candidate) -> str:
    if mode == "cheapest":
        return f"cheapest: {effective_cost(first):.5f} per 1000 delivered"
    share = f"delivered share {_share(first):.3f}"
    if mode == "best":
        return f"best: {share}, median finish {_finish(first)} s"
    return f"balanced: {share}, {effective_cost(first):.5f} per 1000 delivered"
