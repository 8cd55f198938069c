"""Giving an order its route before its first candidate is tried: the service's stored plan,
with the explored candidate first on every Nth order (by order ID, so it is deterministic and
spread evenly). Candidates the catalog gained or lost since the plan are added at the end or
left out, so a route only ever names candidates the service has now."""

from __future__ import annotations

from collections.abc import Sequence

from reseller import db
from reseller.db import Q
from reseller.states import DispatchState


def route_for(
    order_id: int,
    planned: Sequence[int],
    explore: int | None,
    explore_every: int,
    candidates: Sequence[int],
) -> list[int]:
    route = [p for p in planned if p in candidates]
    route += [p for p in candidates if p not in route]
    if explore in route and order_id % explore_every == 0:
        route.remove(explore)
        route.insert(0, explore)
    return route


async def assign(pool: db.Database, order_id: int, explore_every: int) -> None:
    """Set the order's route, once, while it is queued for its first candidate; an order of a
    service with no plan yet keeps priority order."""
    row = await pool.fetchrow(Q.route_inputs, order_id)
    if (
        row is None
        or row["route"] is not None
        or row["planned"] is None
        or row["dispatch_state"] != DispatchState.QUEUED
        or row["dispatch_candidate"] != 0
    ):
        return
    route = route_for(order_id, row["planned"], row["explore"], explore_every, row["candidates"])
    await pool.execute(Q.assign_route, order_id, route)
