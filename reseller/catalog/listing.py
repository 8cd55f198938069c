"""The catalog as the operator reads it (`services list`, the console's Services page): each
local service with its upstream, cost, sell rate, margin, whether it is on sale and why not,
and the candidate its route tries first."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from reseller import db
from reseller.db import Q


@dataclass(frozen=True, slots=True)
class ServiceLine:
    id: int
    name: str
    type: str
    upstream: str | None  # "provider:service" it is priced from; None: no priced candidate
    cost: Decimal | None  # the upstream's rate, in its provider's currency
    rate: Decimal  # the sell rate
    margin: str | None  # "33.3%"; None without a cost or a rate
    state: str  # "on sale", "disabled: WHY" or "disabled by operator: WHY"
    on_sale: bool
    by_operator: bool  # taken off sale by the operator (`catalog.overrides`)
    chosen: str | None  # "provider:service" the route tries first; None before routing ran
    why: str | None  # why the route chose it


async def lines(pool: db.Database) -> list[ServiceLine]:
    """Every local service, by ID."""
    chosen = {r["service_id"]: r for r in await pool.fetch(Q.chosen_candidates)}
    return [_line(r, chosen.get(r["id"])) for r in await pool.fetch(Q.all_services)]


def _line(row: db.Record, route: db.Record | None) -> ServiceLine:
    if route is None or route["provider"] is None:
        chosen = why = None
    else:
        chosen, why = f"{route['provider']}:{route['upstream_service']}", route["reason"]
    return ServiceLine(
        id=row["id"],
        name=row["name"],
        type=row["type"],
        upstream=f"{row['provider']}:{row['upstream_service']}" if row["provider"] else None,
        cost=row["cost_rate"],
        rate=row["rate"],
        margin=_margin(row["rate"], row["cost_rate"]),
        state=_state(row),
        on_sale=row["enabled"],
        by_operator=row["operator_reason"] is not None,
        chosen=chosen,
        why=why,
    )


def _state(row: db.Record) -> str:
    if row["operator_reason"] is not None:
        return f"disabled by operator: {row['operator_reason']}"
    return "on sale" if row["enabled"] else f"disabled: {row['disabled_reason']}"


def _margin(rate: Decimal, cost: Decimal | None) -> str | None:
    """What is left of the sell rate once the cost is paid, in percent of the sell rate."""
    if cost is None or not rate:
        return None
    return f"{(rate - cost) / rate * 100:.1f}%"
