"""The operator's resolution of uncertain orders and refills: an outcome we could not know,
decided by someone who checked the provider. An upstream ID is linked only once the provider
confirms it (the operator can mistype, or read another customer's order); every resolution is
recorded (audit log, and ledger for money). A frozen order (an answer outside the strict
table) is settled on the final status the operator read at the provider."""

from __future__ import annotations

from decimal import Decimal

from reseller import audit, db, errors, logs
from reseller.audit import Actor
from reseller.db import Q
from reseller.orders import drip, lifecycle, upstream_match
from reseller.states import DispatchState, OrderStatus
from reseller.upstream import Upstreams, parse

log = logs.get_logger()
# What a frozen order may be settled on, as the operator read it at the provider.
SETTLE_STATUSES = (OrderStatus.COMPLETED, OrderStatus.PARTIAL, OrderStatus.CANCELED)


async def link(
    pool: db.Database, upstreams: Upstreams, order_id: int, upstream_order_id: str, *, by: Actor
) -> None:
    """The provider has it: record its ID once the provider's status for it fits the order
    (`upstream_match`); the sync job takes it from there."""
    why = await upstream_match.check(pool, upstreams, order_id, upstream_order_id)
    if why is not None:
        raise errors.LinkRefused(f"order {order_id} not linked: {why}")
    await lifecycle.resolved_placed(pool, order_id, upstream_order_id, by=by)


async def link_run(
    pool: db.Database,
    upstreams: Upstreams,
    order_id: int,
    run: int,
    upstream_order_id: str,
    *,
    by: Actor,
) -> None:
    """`link`, for an uncertain run of an emulated drip-feed order."""
    why = await upstream_match.check_run(pool, upstreams, order_id, run, upstream_order_id)
    if why is not None:
        raise errors.LinkRefused(f"run {run} of order {order_id} not linked: {why}")
    await drip.resolved_placed(pool, order_id, run, upstream_order_id, by=by)


async def refund_run(pool: db.Database, order_id: int, run: int, *, by: Actor) -> Decimal:
    """The provider does not have the run: it ends undelivered, its share given back."""
    return await drip.resolved_not_sent(pool, order_id, run, by=by)


async def refund(pool: db.Database, order_id: int, *, by: Actor) -> Decimal:
    """The provider does not have it: cancel and give everything back."""
    return await lifecycle.resolved_not_placed(pool, order_id, by=by)


async def settle_frozen(
    pool: db.Database,
    order_id: int,
    status: str,
    remains: int | None,
    *,
    by: Actor,
    loss_tolerance: Decimal,
) -> Decimal:
    """A frozen order (`orders.strict`) ends as the operator found it at the provider:
    Completed, Partial with `remains` undelivered, or Canceled; refunded as the poller would."""
    remains = 0 if status == OrderStatus.COMPLETED else remains
    answer = parse.StatusAnswer(status, None, None, remains, None)
    return await lifecycle.resolved_frozen(
        pool, order_id, answer, by=by, loss_tolerance=loss_tolerance
    )


async def link_refill(
    pool: db.Database, upstreams: Upstreams, refill_id: int, upstream_refill_id: str, *, by: Actor
) -> None:
    """The provider has the refill: record its ID and status once the provider knows it (its
    `refill_status` names no order, so knowing it and its being nobody else's is all there is
    to check); the refill job polls it from there."""
    facts = await pool.fetchrow(Q.refill_link_facts, refill_id, upstream_refill_id)
    if facts is None or facts["dispatch_state"] != DispatchState.UNCERTAIN:
        raise errors.NotFound(f"refill {refill_id} is not uncertain")
    provider, refused = facts["provider"], f"refill {refill_id} not linked"
    if facts["linked_to"] is not None:
        raise errors.LinkRefused(
            f"{refused}: upstream refill {upstream_refill_id} is already linked to refill"
            f" {facts['linked_to']}"
        )
    if provider not in upstreams:
        raise errors.LinkRefused(f"{refused}: provider {provider} is not in the config")
    try:
        answer = (await upstreams[provider].refill_statuses([upstream_refill_id]))[
            upstream_refill_id
        ]
    except errors.UpstreamError as exc:
        raise errors.LinkRefused(f"{refused}: could not ask {provider}: {exc.message}") from None
    if isinstance(answer, errors.UpstreamRefused):
        raise errors.LinkRefused(
            f"{refused}: {provider} does not know upstream refill {upstream_refill_id}:"
            f" {answer.message}"
        )
    async with pool.transaction() as conn:
        if (
            await conn.fetchval(Q.link_uncertain_refill, refill_id, upstream_refill_id, answer)
            is None
        ):
            raise errors.NotFound(f"refill {refill_id} is not uncertain")
        detail = {"upstream_refill": upstream_refill_id}
        await audit.record(conn, by, "resolve-refill-link", f"refill {refill_id}", detail)
    log.info("refill_uncertain_resolved", refill=refill_id, upstream_refill=upstream_refill_id)


async def reject_refill(pool: db.Database, refill_id: int, *, by: Actor) -> None:
    """The provider does not have the refill: it ends `Rejected`, and the customer may ask
    for another."""
    async with pool.transaction() as conn:
        if await conn.fetchval(Q.reject_uncertain_refill, refill_id) is None:
            raise errors.NotFound(f"refill {refill_id} is not uncertain")
        await audit.record(conn, by, "resolve-refill-rejected", f"refill {refill_id}")
