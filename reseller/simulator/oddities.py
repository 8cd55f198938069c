"""Status answers outside the strict table, as misbehaving panels give them: a status word no
client knows ("Done", "In queue", "Fail", "Error", garbage), remains above the order's quantity,
a charge above what the order costs.

Each order in a status answer is odd with probability `faults.odd_answers`, drawn from the
request's plan and the order's ID: a seed repeats them, and the shared fault stream
(`faults.draw`) is not drawn from, so the other faults of a seeded run stay where they were.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from reseller.money import format_amount
from reseller.simulator.faults import Plan
from reseller.simulator.state import Simulator

UNKNOWN_WORDS = ("Done", "In queue", "Fail", "Error", "Finished", "st@tus_7", "null")
KINDS = ("unknown_status", "remains_above_quantity", "overcharge")


def misanswer(sim: Simulator, answer: Any, params: dict[str, str], plan: Plan) -> Any:
    """`answer` (of a `status` call) with some of its orders' bodies made odd, in place."""
    rate = sim.config.faults.odd_answers
    if rate == 0 or not isinstance(answer, dict) or "error" in answer:
        return answer
    bodies = answer.items() if "orders" in params else [(params.get("order", ""), answer)]
    for token, body in bodies:
        draw = random.Random(f"{plan.variant}:odd:{token}")
        order = sim.orders.get(int(token)) if token.isdigit() else None
        if order is None or not isinstance(body, dict) or draw.random() >= rate:
            continue
        kind = draw.choice(KINDS)
        if kind == "unknown_status":
            body["status"] = draw.choice(UNKNOWN_WORDS)
        elif kind == "remains_above_quantity":
            body["remains"] = str(order.quantity + draw.randint(1, max(order.quantity, 1)))
        else:  # at least twice what the order costs, and never a rounding step away
            body["charge"] = format_amount(order.charge * draw.choice((2, 3, 10)) + Decimal(1))
    return answer
