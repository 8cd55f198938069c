"""Whether an upstream order can be one of ours: the one rule for linking an uncertain order to
an upstream ID, whoever names it (a duplicate-link refusal during dispatch, or the operator).

An uncertain order may never have reached the provider, and an upstream ID someone names may
be another customer's order for the same link: linked wrongly, our order would settle on
someone else's delivery and its money would never come back. So the provider itself must vouch
for the fit. API v2 `status` names neither the service nor the link; what it does return must
fit this order:

- no other local order has that upstream ID (one local order per upstream order);
- the provider knows it — a status call that fails proves nothing, so nothing is linked;
- its `charge` is what the upstream service's rate (as last synced, in the provider's currency
  like the charge) makes of this order's units, give or take a cent of rounding; for a Partial
  anything from the delivered share up, for a Canceled anything up to it (panels show the
  charge net of their refund);
- its `remains` is no more than the order's units.

Another order of the same service, link and size still fits: API v2 tells nothing more.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from reseller import db, errors, money, service_types
from reseller.db import Q
from reseller.states import DispatchState, OrderStatus
from reseller.upstream import Upstreams, parse

ROUNDING = Decimal("0.01")  # panels round a charge to cents or finer, up or down


async def check(
    pool: db.Database, upstreams: Upstreams, order_id: int, upstream_id: str
) -> str | None:
    """Why `upstream_id` must not be linked to uncertain order `order_id`; None when the
    provider's own status for it fits the order."""
    facts = await pool.fetchrow(Q.link_facts, order_id, upstream_id)
    linked = None if facts is None or facts["linked_to"] is None else f"order {facts['linked_to']}"
    return await _vouched(facts, linked, upstreams, upstream_id)


async def check_run(
    pool: db.Database, upstreams: Upstreams, order_id: int, run: int, upstream_id: str
) -> str | None:
    """`check`, for an uncertain run of an emulated drip-feed order."""
    facts = await pool.fetchrow(Q.run_link_facts, order_id, run, upstream_id)
    return await _vouched(
        facts, None if facts is None else facts["linked_to"], upstreams, upstream_id
    )


async def _vouched(
    facts: Mapping[str, Any] | None, linked: str | None, upstreams: Upstreams, upstream_id: str
) -> str | None:
    if facts is None or facts["dispatch_state"] != DispatchState.UNCERTAIN:
        return "it is not uncertain"
    if linked is not None:
        return f"upstream order {upstream_id} is already linked to {linked}"
    provider = facts["provider"]
    if provider not in upstreams:
        return f"provider {provider} is not in the config: cannot ask it"
    client = upstreams[provider]
    try:
        answer = (await client.statuses([upstream_id]))[upstream_id]
    except errors.UpstreamError as exc:
        return f"could not ask {provider} about upstream order {upstream_id}: {exc.message}"
    if isinstance(answer, errors.UpstreamRefused):
        return f"{provider} does not know upstream order {upstream_id}: {answer.message}"
    why = misfit(facts, answer, currency=client.provider.currency)
    return None if why is None else f"upstream order {upstream_id} is not this order: {why}"


def misfit(facts: Mapping[str, Any], answer: parse.StatusAnswer, *, currency: str) -> str | None:
    """Why the status of an upstream order cannot be this order's (`link_facts`), or None."""
    per_package = facts["upstream_type"] in service_types.PACKAGE_TYPES
    runs = facts["runs"] or 1
    units = facts["quantity"] * runs
    if answer.status is None:
        return "its status is not one we know"
    if answer.currency and answer.currency.strip().upper() != currency.upper():
        return f"its charge is in {answer.currency}, not {currency}"
    # A package's remains count whatever unit the panel chooses: only its charge is checked.
    if not per_package and answer.remains is not None and answer.remains > units:
        return f"remains {answer.remains} is more than this order's {units}"
    if facts["upstream_rate"] is None:
        return "the rate of its upstream service is unknown, its charge cannot be checked"
    if answer.charge is None:
        return "its status shows no charge to check"
    rate = facts["upstream_rate"]
    cost = rate * runs if per_package else rate * units / 1000
    low = cost
    if answer.status == OrderStatus.CANCELED or (
        answer.status == OrderStatus.PARTIAL and per_package
    ):
        low = Decimal(0)
    elif answer.status == OrderStatus.PARTIAL:
        remains = units if answer.remains is None else min(max(answer.remains, 0), units)
        low = cost * (units - remains) / units
    if not low - ROUNDING <= answer.charge <= cost + ROUNDING:
        return (
            f"{answer.status} with charge {money.format_amount(answer.charge)}, where this"
            f" order costs {money.format_amount(cost)} upstream"
        )
    return None
