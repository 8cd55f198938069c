"""Every change of an order's state and money, in one place: nothing else writes an order's
dispatch state, status, remains or refunds (but `orders.drip`, for an emulated drip-feed, whose
state follows its runs: never dispatched itself, never passed here). One function per
transition, one transaction each (a statement, or a block that commits whole): interrupted, the
order is before it or after it, never between. The drivers (`reseller.jobs`) decide *which*
transition an upstream answer means; the statements are in `sql/queries/lifecycle.sql`, grouped
the same way.

    queued ──claim──▶ sending ──placed──▶ placed ──progress──▶ … ──settle──▶ settled
      ▲  │              │  ├─refused by candidate / not sent──▶ queued (next / same candidate)
      │  │              │  └─uncertain (unknown outcome, abandoned)──▶ uncertain
      │  ├─skip/defer───┘                            uncertain ──resolved placed──▶ placed
      │  ├─refused (no candidate left)──▶ refused, Canceled, refunded in full
      │  └─canceled before dispatch────▶ refused, Canceled, refunded in full
      └────────────────────────────────── uncertain ──resolved not placed──▶ refused, Canceled

    placed ──answer outside the strict table──▶ frozen (money held, still polled)
    frozen ──a sane answer──▶ progress / settle;  frozen ──resolved by the operator──▶ settled
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from reseller import audit, db, errors, logs
from reseller.db import Q
from reseller.orders import provider_check, refunds
from reseller.states import DispatchState, OrderStatus
from reseller.upstream.parse import StatusAnswer

log = logs.get_logger()
IN_FULL = Decimal("Infinity")
CANCELED = OrderStatus.CANCELED

# --- on the way upstream ---


@dataclass(frozen=True, slots=True)
class Claim:
    claimed: bool  # this process sends it now
    waiting_for: int | None = None  # not claimed: this earlier order holds its link there


async def claim(
    pool: db.Database,
    order_id: int,
    candidate: int,
    provider: str,
    upstream_service: str,
    *,
    link_key: str | None,
    wait_seconds: float,
) -> Claim:
    """queued → sending, committed before the request leaves: it is never sent twice. Only one
    process wins. With `link_key` (its service's orders must not overlap on one link), the
    order instead waits, still queued, while another order holds that link on the same upstream
    service; checked and claimed under one lock, so of two such orders only one is sent."""
    async with pool.transaction() as conn:
        if link_key is not None:
            await conn.execute(Q.lock_link, link_key, provider, upstream_service)
            holder = await conn.fetchval(
                Q.active_order_on_link, order_id, link_key, provider, upstream_service
            )
            if holder is not None:
                why = f"waiting: order {holder} is active on this link at {provider}"
                await conn.execute(Q.wait_for_link, order_id, holder, wait_seconds, why)
                return Claim(False, holder)
        claimed = await conn.fetchval(
            Q.claim_order, order_id, candidate, provider, upstream_service
        )
    return Claim(claimed is not None)


async def wait_for_link(
    pool: db.Database,
    order_id: int,
    candidate: int,
    holder: int | None,
    seconds: float,
    why: str,
) -> None:
    """sending → queued on the same candidate: the provider says the link already has an
    active order (`holder` when it is one of ours). A wait, not a refusal: looked at again
    after `seconds`, or as soon as `holder` is final."""
    async with pool.transaction() as conn:
        await conn.execute(Q.requeue_order, order_id, candidate, 0.0, why)
        await conn.execute(Q.wait_for_link, order_id, holder, seconds, why)


async def skip_candidate(pool: db.Database, order_id: int, candidate: int) -> None:
    """This candidate cannot take the order (not configured, or it would cost more than paid)."""
    await pool.execute(Q.skip_candidate, order_id, candidate)


async def defer(pool: db.Database, order_id: int, seconds: float) -> None:
    """Not now (its provider is paused): look again later, nothing claimed."""
    await pool.execute(Q.defer_order, order_id, seconds)


async def placed(pool: db.Database, order_id: int, upstream_id: str) -> None:
    """sending (or uncertain, proven) → placed with the provider's order ID. Raises
    DuplicateUpstreamOrder when another order already has that ID (nothing changes)."""
    await pool.execute(Q.mark_placed, order_id, upstream_id)


async def requeued(
    pool: db.Database, order_id: int, candidate: int, *, delay: float = 0.0, why: str
) -> None:
    """sending → queued on `candidate`: the next one after a refusal (or too many failed
    connections), the same one after a connection that failed before sending."""
    await pool.execute(Q.requeue_order, order_id, candidate, delay, why)


async def uncertain(pool: db.Database, order_id: int, why: str) -> None:
    """sending → uncertain: it may have reached the provider. Never re-sent; money held."""
    await pool.execute(Q.mark_uncertain, order_id, why)
    log.warning("order_uncertain", order=order_id, reason=why)


async def abandon_stale(pool: db.Database, seconds: float) -> list[int]:
    """sending for longer than any call lasts → uncertain: its process died mid-call."""
    ids = [r["id"] for r in await pool.fetch(Q.abandon_stale_sending, seconds)]
    for order_id in ids:
        log.warning("order_uncertain", order=order_id, reason="abandoned in flight")
    return ids


async def refused(pool: db.Database, order_id: int, reason: str) -> Decimal:
    """queued with no candidate left → Canceled, refunded in full; what moved."""
    async with pool.transaction() as conn:
        moved = await refunds.refund_to(conn, order_id, IN_FULL, reason=reason)
        await conn.execute(
            Q.close_order, order_id, OrderStatus.CANCELED, DispatchState.REFUSED, reason
        )
    log.info("order_refused", order=order_id, reason=reason)
    return moved


async def canceled_before_dispatch(pool: db.Database, order_id: int, cancel_id: int) -> bool:
    """A cancel for an order still in our queue: canceled, refunded in full and the cancel
    request answered, never sent. False: the order had left the queue."""
    async with pool.transaction() as conn:
        if await conn.fetchval(Q.cancel_unsent_order, order_id) is None:
            return False
        await refunds.refund_to(conn, order_id, IN_FULL, reason="canceled before dispatch")
        await conn.execute(Q.cancel_answered, cancel_id, DispatchState.PLACED, "canceled locally")
    return True


# --- with the provider ---

Progress = tuple[int, str, int | None, int | None, Decimal | None]  # id, status, remains, …


async def progressed(pool: db.Database, rows: Sequence[Progress]) -> None:
    """Not final yet: status, remains, start count and cost of a whole batch, one statement."""
    if rows:
        await pool.execute(Q.apply_progress, *map(list, zip(*rows, strict=True)))


async def settle(
    pool: db.Database,
    order_id: int,
    answer: StatusAnswer,
    *,
    max_poll_errors: int,
    loss_tolerance: Decimal,
) -> Decimal | None:
    """A final status: recorded and the order refunded what it owes (`refunds.owed_back`),
    once; what moved now. None: its numbers cannot be settled on (a poll error, nothing
    moved). The provider's final charge is checked in the same transaction
    (`provider_check`), which never changes the refund nor holds it up."""
    async with pool.transaction() as conn:
        order = await conn.fetchrow(Q.lock_for_settlement, order_id)
        if order["settled_at"] is not None:
            return Decimal(0)
        if (why := refunds.unusable(answer, order["total_quantity"])) is not None:
            await poll_error(conn, order_id, why, max_poll_errors)
            return None
        owed = refunds.owed_back(order["charge"], order["total_quantity"], answer)
        moved = Decimal(0)
        if owed > 0:
            moved = await refunds.refund_to(
                conn, order_id, owed, reason=f"{answer.status} upstream"
            )
        await conn.execute(
            Q.settle_order,
            order_id,
            answer.status,
            answer.remains,
            answer.start_count,
            answer.charge,
        )
        await provider_check.check_within(conn, order_id, tolerance=loss_tolerance)
    log.info("order_settled", order=order_id, status=answer.status, refunded=str(moved))
    return moved


async def frozen(
    pool: db.Database,
    order_id: int,
    why: str,
    answer: Mapping[str, Any],
    charge: Decimal | None,
) -> None:
    """An answer outside the strict table (`orders.strict`): nothing settles or moves, the
    reason and the answer as sent are kept for the operator (and the `charge` it reports, as
    our cost), and the order stays polled; a later sane answer (`progressed`, `settle`) thaws
    it."""
    newly = await pool.fetchval(Q.freeze_order, order_id, why, dict(answer), charge)
    if newly:
        log.warning("order_frozen", order=order_id, reason=why, answer=dict(answer))


async def poll_error(pool: db.Executor, order_id: int, why: str, max_poll_errors: int) -> bool:
    """An answer that cannot be used: polled again, and after `max_poll_errors` in a row no
    longer polled but flagged for the operator, its money held. Whether it is flagged now."""
    stopped = await pool.fetchval(Q.count_poll_error, order_id, max_poll_errors, why)
    if stopped is not None:
        log.warning("order_flagged", order=order_id, reason=stopped)
    return stopped is not None


async def too_old_to_poll(pool: db.Database, max_age_days: int) -> list[int]:
    """Open orders older than this are flagged instead of polled forever."""
    ids = [r["id"] for r in await pool.fetch(Q.stop_polling_old, max_age_days)]
    for order_id in ids:
        log.warning("order_too_old_to_poll", order=order_id, max_age_days=max_age_days)
    return ids


# --- decided by someone who knows ---


async def resolved_placed(
    pool: db.Database, order_id: int, upstream_id: str, *, by: audit.Actor | None = None
) -> None:
    """uncertain → placed under a checked upstream ID (by an operator, recorded in the audit
    trail; or proven by the provider, `by` None). Raises NotFound when it is no longer
    uncertain, and DuplicateUpstreamOrder when another order took that ID meanwhile."""
    async with pool.transaction() as conn:
        linked = await conn.fetchval(Q.link_uncertain, order_id, upstream_id)
        if linked is None:
            raise errors.NotFound(f"order {order_id} is not uncertain")
        if by is not None:
            detail = {"upstream_order": upstream_id}
            await audit.record(conn, by, "resolve-link", f"order {order_id}", detail)
    log.info("order_uncertain_resolved", order=order_id, upstream_order=upstream_id)


async def resolved_not_placed(pool: db.Database, order_id: int, *, by: audit.Actor) -> Decimal:
    """uncertain → Canceled, refunded in full: the operator found it is not at the provider."""
    reason = "resolved by operator: not placed"
    async with pool.transaction() as conn:
        if await conn.fetchval(Q.uncertain_order, order_id) is None:
            raise errors.NotFound(f"order {order_id} is not uncertain")
        moved = await refunds.refund_to(conn, order_id, IN_FULL, reason=reason)
        await conn.execute(
            Q.close_order, order_id, OrderStatus.CANCELED, DispatchState.REFUSED, reason
        )
        await audit.record(conn, by, "resolve-refund", f"order {order_id}")
    return moved


async def resolved_frozen(
    pool: db.Database,
    order_id: int,
    answer: StatusAnswer,
    *,
    by: audit.Actor,
    loss_tolerance: Decimal,
) -> Decimal:
    """frozen → settled on the final status the operator found at the provider: refunded by
    the poller's rule (`refunds`), in one transaction with its audit entry, the provider's
    charge checked as at any settlement (`provider_check`); what moved. Raises NotFound when
    it is not frozen, SettlementRefused when the answer is not one to settle on."""
    async with pool.transaction() as conn:
        order = await conn.fetchrow(Q.lock_frozen, order_id)
        if order is None:
            raise errors.NotFound(f"order {order_id} is not frozen")
        if answer.status in (OrderStatus.COMPLETED, OrderStatus.PARTIAL, CANCELED):
            why = refunds.unusable(answer, order["total_quantity"])
        else:
            why = f"{answer.status} is not a final status"
        if why is not None:
            raise errors.SettlementRefused(f"order {order_id} not settled: {why}")
        owed = refunds.owed_back(order["charge"], order["total_quantity"], answer)
        moved = Decimal(0)
        if owed > 0:
            reason = f"{answer.status} (resolved by operator)"
            moved = await refunds.refund_to(conn, order_id, owed, reason=reason)
        await conn.execute(Q.settle_order, order_id, answer.status, answer.remains, None, None)
        detail = {"status": answer.status, "remains": answer.remains, "refunded": str(moved)}
        await audit.record(conn, by, "resolve-frozen", f"order {order_id}", detail)
        await provider_check.check_within(conn, order_id, tolerance=loss_tolerance)
    log.info("order_frozen_resolved", order=order_id, status=answer.status, refunded=str(moved))
    return moved
