"""What the simulated panel keeps: orders, refills, the request log, and its refusals."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from reseller.money import quantize_down

# Lower-cased status spellings that end an order, and those that refund it in full.
CANCELED = frozenset({"canceled", "cancelled", "refunded"})
FINAL = frozenset({"completed", "partial", *CANCELED})


class SimError(Exception):
    """A refusal the panel answers as {"error": message}."""

    @property
    def message(self) -> str:
        return str(self.args[0])


@dataclass(slots=True)
class RecordedRequest:
    action: str | None
    params: dict[str, str]  # everything sent except the key
    time: float  # the simulator's clock (monotonic seconds)
    method: str = "POST"
    fault: str | None = None  # the transport fault applied to it, or "down"


@dataclass(slots=True)
class SimOrder:
    id: int
    service: int
    type: str
    link: str
    quantity: int  # units in all (quantity × runs for drip-feed, 1 for a package)
    charge: Decimal  # debited at add; `charge - refunded` is what status shows
    created: float
    fields: dict[str, str] = field(default_factory=dict)  # the add request, key excluded
    runs: int = 1
    status: str = "Pending"
    remains: int = 0
    start_count: int = 0
    refunded: Decimal = Decimal(0)
    final: bool = False
    pinned: bool = False  # status forced by a test: the clock no longer moves it
    cancel_at: float | None = None  # a cancel lands at this tick boundary …
    cancel_remains: int = 0  # … leaving this much undelivered
    # Placed while another order of its service was active on the same target: the two
    # underrun each other, with no way to recalculate (what a real panel warns of).
    overlapped: bool = False

    @property
    def current_charge(self) -> Decimal:
        return self.charge - self.refunded

    def refund_for(self, kind: str, remains: int) -> Decimal:
        """What a panel gives back for an order ending as `kind` (lower-cased status)."""
        if kind in CANCELED:
            return self.charge
        if kind == "partial" and self.quantity:
            return quantize_down(self.charge * min(max(remains, 0), self.quantity) / self.quantity)
        return Decimal(0)


@dataclass(slots=True)
class SimRefill:
    id: int
    order: int
    created: float
    status: str = "Pending"
    pinned: bool = False
