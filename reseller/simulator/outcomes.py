"""How orders and refills end: drawn from the seed and the ID alone, so a run repeats exactly
whatever order the requests arrive in."""

from __future__ import annotations

import random

from reseller.simulator.config import SimConfig
from reseller.simulator.models import SimOrder


def remains_at_end(config: SimConfig, order: SimOrder) -> int:
    """0 (Completed), some (Partial) or all (Canceled), in the configured shares: the order's
    service's profile, else the panel's."""
    profile = config.profiles.get(order.service)
    cancel = profile.cancel_ratio if profile else config.cancel_ratio
    partial = profile.partial_ratio if profile else config.partial_ratio
    draw = random.Random(f"{config.seed}:order:{order.id}")
    share = draw.random()
    if share < cancel:
        return order.quantity
    if share < cancel + partial:
        if order.quantity <= 1:
            return order.quantity
        if profile is not None and profile.partial_delivered is not None:
            kept = round(order.quantity * (1 - profile.partial_delivered))
            return min(max(kept, 1), order.quantity - 1)
        return draw.randint(1, order.quantity - 1)
    return 0


def tick_for(config: SimConfig, order: SimOrder) -> float:
    """Seconds per status step of this order: its service's profile may be slower."""
    profile = config.profiles.get(order.service)
    return config.tick * (profile.slowness if profile else 1.0)


def keeps_refund(config: SimConfig, order_id: int) -> bool:
    """Whether the panel does not refund this order when it ends Partial or Canceled: its
    charge stays full and its balance is not credited."""
    return random.Random(f"{config.seed}:unrefunded:{order_id}").random() < config.unrefunded_ratio


def overcharges(config: SimConfig, order_id: int) -> bool:
    """Whether the panel charges this order above its service's rate."""
    return random.Random(f"{config.seed}:overcharge:{order_id}").random() < config.overcharge_ratio


def start_count(config: SimConfig, order_id: int) -> int:
    return random.Random(f"{config.seed}:start:{order_id}").randint(100, 50_000)


def refill_end(config: SimConfig, refill_id: int) -> str:
    draw = random.Random(f"{config.seed}:refill:{refill_id}").random()
    return "Rejected" if draw < config.refill_reject_ratio else "Completed"
