"""The invariants of DESIGN.md §3, checked against the database and the simulator's log."""

from __future__ import annotations

from support import money_holds


async def check(pool, sim_state, *, settled: bool = True) -> dict[str, int]:
    """Assert every invariant; returns the tally of dispatch states."""
    await money_holds(pool)
    charges = await pool.fetchval(
        "SELECT count(*) FROM orders o WHERE (SELECT count(*) FROM ledger l"
        " WHERE l.order_id = o.id AND l.kind = 'charge') <> 1"
    )
    assert charges == 0, "an order without exactly one charge"
    orders = await pool.fetch(
        "SELECT id, link, dispatch_state, upstream_order_id, refunded, charge, status FROM orders"
    )
    upstream_ids = [o["upstream_order_id"] for o in orders if o["upstream_order_id"]]
    assert len(upstream_ids) == len(set(upstream_ids)), "two local orders share an upstream one"
    for order in orders:
        placed = len(sim_state.orders_for_link(order["link"])) if order["link"] else 0
        assert placed <= 1, (
            f"order {order['id']} placed upstream {placed} times: {dict(order)}, "
            f"{[(o.id, o.link) for o in sim_state.orders_for_link(order['link'])]}"
        )
        if order["dispatch_state"] == "placed":
            upstream = sim_state.orders[int(order["upstream_order_id"])]
            assert upstream.link == order["link"]
        if order["dispatch_state"] == "uncertain":
            assert order["refunded"] == 0, "an uncertain order was refunded"
        if order["dispatch_state"] == "refused":
            assert order["refunded"] == order["charge"]
        if settled:
            assert order["dispatch_state"] in ("placed", "refused", "uncertain"), order
    tally: dict[str, int] = {}
    for order in orders:
        tally[order["dispatch_state"]] = tally.get(order["dispatch_state"], 0) + 1
    return tally
