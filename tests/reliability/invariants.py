"""The invariants of ARCHITECTURE.md, checked against the database and the simulator's log."""

from __future__ import annotations

from support import money_holds


async def check(
    pool, sim_state, *, settled: bool = True, unique_links: bool = True, foreign: int = 0
) -> dict[str, int]:
    """Assert every invariant; returns the tally of dispatch states. With `unique_links` (each
    order its own link) the panel's log proves no order was placed twice; with shared links,
    the panel holds no more orders than were placed or may have been (uncertain), besides the
    `foreign` ones placed on it directly by others."""
    await money_holds(pool)
    charges = await pool.fetchval(
        "SELECT count(*) FROM orders o WHERE (SELECT count(*) FROM ledger l"
        " WHERE l.order_id = o.id AND l.kind = 'charge') <> 1"
    )
    assert charges == 0, "an order without exactly one charge"
    orders = await pool.fetch(
        "SELECT id, link, quantity * coalesce(runs, 1) AS units, dispatch_state,"
        " upstream_order_id, refunded, charge, status, waiting_since FROM orders"
    )
    upstream_ids = [o["upstream_order_id"] for o in orders if o["upstream_order_id"]]
    assert len(upstream_ids) == len(set(upstream_ids)), "two local orders share an upstream one"
    for order in orders:
        placed = len(sim_state.orders_for_link(order["link"])) if order["link"] else 0
        assert placed <= 1 or not unique_links, (
            f"order {order['id']} placed upstream {placed} times: {dict(order)}, "
            f"{[(o.id, o.link) for o in sim_state.orders_for_link(order['link'])]}"
        )
        if order["dispatch_state"] == "placed":
            upstream = sim_state.orders[int(order["upstream_order_id"])]
            mine = (upstream.link, upstream.quantity) == (order["link"], order["units"])
            assert mine, f"order {order['id']} linked to another order upstream: {upstream}"
        if order["dispatch_state"] == "uncertain":
            assert order["refunded"] == 0, "an uncertain order was refunded"
        if order["dispatch_state"] == "refused":
            assert order["refunded"] == order["charge"]
        waiting = order["dispatch_state"] == "queued" and order["waiting_since"] is not None
        if waiting:  # for its link: behind an uncertain order, or one the panel names
            assert (order["status"], order["refunded"]) == ("Pending", 0), order
        if settled:
            assert waiting or order["dispatch_state"] in ("placed", "refused", "uncertain"), order
    tally: dict[str, int] = {}
    for order in orders:
        tally[order["dispatch_state"]] = tally.get(order["dispatch_state"], 0) + 1
    reached = tally.get("placed", 0) + tally.get("uncertain", 0) + tally.get("sending", 0)
    assert len(sim_state.orders) - foreign <= reached, "the panel holds orders nobody placed"
    return tally
