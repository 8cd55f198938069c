"""What a simulated panel is told to be: its key, money, clock speed and how badly it behaves."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any


@dataclass
class Faults:
    """Per-request probabilities (0..1) of what real panels do to their clients; all off."""

    # Transport faults: at most one per request, the first drawn in this order wins.
    timeout: float = 0.0  # processed (an add creates its order), then no answer ever comes
    reset: float = 0.0  # processed, then the connection is closed without an answer
    http_500: float = 0.0  # 500 after processing, or 502/503 from the "proxy" before it
    html: float = 0.0  # 200 with a Cloudflare challenge page; never reaches the panel
    empty: float = 0.0  # processed, then 200 with an empty body
    malformed_json: float = 0.0  # processed, then 200 with the JSON cut short
    # Content faults: any number per request, they reshape a well-formed answer.
    string_numbers: float = 0.0  # numbers as strings and numeric strings as numbers
    status_spellings: float = 0.0  # "Cancelled", "canceled", "Refunded", "in_progress", …
    order_id_key: float = 0.0  # add answers {"order_id": N}
    bare_string_errors: float = 0.0  # multi-status: "Incorrect order ID" instead of {"error"}
    odd_remains: float = 0.0  # remains negative or "Unknown"
    # Per order in a status answer (oddities.py): an unknown status word, remains above the
    # quantity or a charge above the order's cost.
    odd_answers: float = 0.0

    def __post_init__(self) -> None:
        for name in fault_names():
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"fault {name} must be a probability 0..1, not {value!r}")


def fault_names() -> tuple[str, ...]:
    return tuple(f.name for f in fields(Faults))


@dataclass
class DeliveryProfile:
    """How one service's orders end, in place of the panel-wide ratios: simulated panels that
    differ in what they deliver (routing compares them)."""

    partial_ratio: float = 0.0
    cancel_ratio: float = 0.0
    partial_delivered: float | None = None  # share a Partial delivers; None: drawn at random
    slowness: float = 1.0  # its orders' status steps last this many ticks


@dataclass
class SimConfig:
    """Mutable at run time through `app[SIM].config`: tests change faults and latency mid-test."""

    key: str = "sim-key"
    currency: str = "USD"
    balance: Decimal = Decimal("1000")
    latency: float = 0.0  # seconds added to every answer
    tick: float = 0.5  # seconds per status step: Pending → In progress → … → final
    faults: Faults = field(default_factory=Faults)
    seed: int | None = None  # faults and order outcomes repeat for a given seed
    services: list[dict[str, Any]] | None = None  # API-shaped service dicts; default catalog
    refuse_duplicate_links: bool = False  # like panels that allow one active order per link
    partial_ratio: float = 0.0  # share of orders that end Partial
    cancel_ratio: float = 0.0  # share of orders that end Canceled (full refund)
    refill_reject_ratio: float = 0.0  # share of refills that end Rejected
    profiles: dict[int, DeliveryProfile] = field(default_factory=dict)  # service ID → its own
    # The panel's side of the money going wrong, per order (drawn from the seed and its ID):
    unrefunded_ratio: float = 0.0  # share of Partial/Canceled orders it keeps the refund of
    overcharge_ratio: float = 0.0  # share of orders charged above the service's rate …
    overcharge_percent: Decimal = Decimal(10)  # … by this much
    max_recorded: int = 1_000_000  # the request log keeps the newest this many
    # Where its ID sequences start. A real panel never reuses an ID; a panel started again
    # against the same reseller database (the demo) must start past the IDs it already gave.
    first_order_id: int = 10001
    first_refill_id: int = 501
