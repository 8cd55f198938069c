"""How orders and refills end: drawn from the seed and the ID alone, so a run repeats exactly
whatever order the requests arrive in."""

from __future__ import annotations

import random

from reseller.simulator.config import SimConfig
from reseller.simulator.models import SimOrder


def remains_at_end(config: SimConfig, order: SimOrder) -> int:
    """0 (Completed), some (Partial) or all (Canceled), in the configured shares."""
    draw = random.Random(f"{config.seed}:order:{order.id}")
    share = draw.random()
    if share < config.cancel_ratio:
        return order.quantity
    if share < config.cancel_ratio + config.partial_ratio:
        return draw.randint(1, order.quantity - 1) if order.quantity > 1 else order.quantity
    return 0


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
