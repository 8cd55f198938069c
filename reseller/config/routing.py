"""The `routing:` section: how each local service picks among its upstream candidates.

```yaml
routing:
  mode: fixed               # the default: fixed | cheapest | best | balanced
  services: {1: cheapest}   # local service ID → its own mode
  window_days: 30           # quality figures cover the orders created this many days back
  refresh_seconds: 300      # how often the figures and the routes are recomputed
  explore_every: 20         # every Nth order goes first to an under-measured candidate
  floors: {min_orders: 20, delivered_share: 0.8, uncertain_rate: 0.05}
```
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from reseller.config.reader import Section, decimal, integer, one_of

MODES = ("fixed", "cheapest", "best", "balanced")
_MODE = one_of(MODES, "unknown routing mode {!r}: fixed, cheapest, best or balanced")


@dataclass(frozen=True, slots=True)
class FloorsConfig:
    # A candidate with fewer settled orders in the window is not judged (and is explored).
    min_orders: int = 20
    delivered_share: Decimal = Decimal("0.8")  # below it: demoted
    uncertain_rate: Decimal = Decimal("0.05")  # above it: demoted


@dataclass(frozen=True, slots=True)
class RoutingConfig:
    mode: str = "fixed"
    services: Mapping[int, str] = field(default_factory=dict)
    window_days: int = 30
    refresh_seconds: Decimal = Decimal(300)
    explore_every: int = 20
    floors: FloorsConfig = field(default_factory=FloorsConfig)

    def mode_for(self, service_id: int) -> str:
        return self.services.get(service_id, self.mode)


def read_routing(root: Section) -> RoutingConfig:
    s = root.section("routing")
    settings = s.read(
        RoutingConfig,
        mode=_MODE,
        services=_service_modes,
        window_days=integer(1, 365),
        refresh_seconds=decimal(Decimal(1), Decimal(86400)),
        explore_every=integer(2, 1_000_000),
    )
    f = s.section("floors")
    floors = FloorsConfig(
        **f.read(
            FloorsConfig,
            min_orders=integer(1, 1_000_000),
            delivered_share=decimal(Decimal(0), Decimal(1)),
            uncertain_rate=decimal(Decimal(0), Decimal(1)),
        )
    )
    f.finish()
    s.finish()
    return RoutingConfig(floors=floors, **settings)


def _service_modes(value: Any) -> dict[int, str]:
    if not isinstance(value, dict):
        raise ValueError("must be a mapping of local service ID to mode")
    modes = {}
    for key, mode in value.items():
        if isinstance(key, bool) or not isinstance(key, int) or key <= 0:
            raise ValueError(f"{key!r} is not a local service ID")
        modes[key] = _MODE(mode)
    return modes
