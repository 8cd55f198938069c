"""Drip-feed emulation: an order whose service offers drip-feed the upstream lacks is charged
once for runs × quantity and sent upstream as `runs` plain orders of `quantity`, one every
`interval` minutes (`order_runs`). Every change of a run, and of the order they make up, is
here, one transaction each, the order's row locked first.

    run: queued ──claim──▶ sending ──placed──▶ placed ──answered…──▶ final
           │                 ├─not sent / refused by candidate──▶ queued
           │                 └─unknown outcome, abandoned──▶ uncertain (never re-sent)
           │                      uncertain ──operator: the provider has it──▶ placed
           │                      uncertain ──operator: it never arrived──▶ refused (refunded)
           ├─no candidate left──▶ refused, Canceled (undelivered)
           └─cancel──▶ refused, Canceled (undelivered, refunded at once)

The order owes back charge × (remains of its final runs) / (runs × quantity), brought up to
that whenever a run ends (`refunds.refund_to` moves only the gap, so the sum stays exact), and
settles when every run is final: Completed, Partial or Canceled by what remains.
"""

from __future__ import annotations

from decimal import Decimal

from reseller import audit, db, errors, logs, money
from reseller.db import Q
from reseller.orders import refunds
from reseller.states import OrderStatus

log = logs.get_logger()

# --- on the way upstream ---


async def claim(
    pool: db.Database, order_id: int, run: int, candidate: int, provider: str, service: str
) -> bool:
    """queued → sending, committed before the request leaves; whether this process sends it."""
    return await pool.fetchval(Q.claim_run, order_id, run, candidate, provider, service) is not None


async def requeued(
    pool: db.Database,
    order_id: int,
    run: int,
    *,
    candidate: int,
    next_candidate: int,
    delay: float,
    why: str,
) -> None:
    """Back in the queue (not sent, or refused by this candidate): on `next_candidate`."""
    await pool.execute(Q.requeue_run, order_id, run, candidate, next_candidate, delay, why)


async def uncertain(pool: db.Database, order_id: int, run: int, why: str) -> None:
    """sending → uncertain: it may have reached the provider. Never re-sent; money held."""
    await pool.execute(Q.run_uncertain, order_id, run, why)
    log.warning("run_uncertain", order=order_id, run=run, reason=why)


async def abandon_stale(pool: db.Database, seconds: float) -> None:
    """sending for longer than any call lasts → uncertain: its process died mid-call."""
    for row in await pool.fetch(Q.abandon_stale_runs, seconds):
        log.warning("run_uncertain", order=row["order_id"], run=row["run"], reason="abandoned")


async def placed(pool: db.Database, order_id: int, run: int, upstream_id: str) -> None:
    """sending → placed; the order shows In progress. Raises DuplicateUpstreamOrder when
    another run already has that upstream ID (nothing changes)."""
    async with pool.transaction() as conn:
        await conn.fetchrow(Q.lock_drip_order, order_id)
        await conn.fetchval(Q.run_placed, order_id, run, upstream_id)
        await conn.execute(Q.aggregate_runs, order_id)
    log.info("run_placed", order=order_id, run=run, upstream_order=upstream_id)


async def refused(pool: db.Database, order_id: int, run: int, reason: str) -> Decimal:
    """No candidate takes it: the run ends undelivered, its share owed back; what moved."""
    async with pool.transaction() as conn:
        await conn.fetchrow(Q.lock_drip_order, order_id)
        await conn.execute(Q.run_refused, order_id, run, reason)
        moved = await _account(conn, order_id, reason=f"run {run} refused: {reason}")
    log.info("run_refused", order=order_id, run=run, reason=reason)
    return moved


# --- the operator's decision on an uncertain run ---


async def resolved_placed(
    pool: db.Database, order_id: int, run: int, upstream_id: str, *, by: audit.Actor
) -> None:
    """uncertain → placed under an upstream ID the provider vouched for; polled from then on.
    Raises NotFound when it is not uncertain (any more)."""
    async with pool.transaction() as conn:
        await conn.fetchrow(Q.lock_drip_order, order_id)
        if await conn.fetchval(Q.run_uncertain_placed, order_id, run, upstream_id) is None:
            raise errors.NotFound(f"run {run} of order {order_id} is not uncertain")
        await conn.execute(Q.aggregate_runs, order_id)
        detail = {"run": run, "upstream_order": upstream_id}
        await audit.record(conn, by, "resolve-run-link", f"order {order_id}", detail)
    log.info("run_uncertain_resolved", order=order_id, run=run, upstream_order=upstream_id)


async def resolved_not_sent(
    pool: db.Database, order_id: int, run: int, *, by: audit.Actor
) -> Decimal:
    """uncertain → over, undelivered: the provider does not have it. Its share is refunded
    (and the order settled if it was the last open run) in the same transaction as the
    decision and its audit entry; what moved."""
    async with pool.transaction() as conn:
        await conn.fetchrow(Q.lock_drip_order, order_id)
        why = "not at the provider (resolved by operator)"
        if await conn.fetchval(Q.run_not_sent, order_id, run, why) is None:
            raise errors.NotFound(f"run {run} of order {order_id} is not uncertain")
        moved = await _account(conn, order_id, reason=f"run {run} not sent (resolved by operator)")
        detail = {"run": run, "refunded": str(moved)}
        await audit.record(conn, by, "resolve-run-refund", f"order {order_id}", detail)
    log.info("run_uncertain_resolved", order=order_id, run=run, refunded=str(moved))
    return moved


# --- with the provider ---


async def answered(
    pool: db.Database,
    order_id: int,
    run: int,
    *,
    status: str,
    remains: int | None,
    start_count: int | None,
    cost: Decimal | None,
    final: bool,
) -> Decimal:
    """A run's status: progress, or final with the remains it left undelivered (the order's
    refund and, once every run is final, its settlement in the same transaction); what moved."""
    async with pool.transaction() as conn:
        await conn.fetchrow(Q.lock_drip_order, order_id)
        changed = await conn.fetchval(
            Q.run_answered, order_id, run, status, remains, start_count, cost, final
        )
        if changed is None:  # answered meanwhile (another poller): nothing more to do
            return Decimal(0)
        return await _account(conn, order_id, reason=f"run {run} {status} upstream")


# --- the customer's cancel ---


async def cancel(pool: db.Database, customer_id: int, order_id: int) -> bool:
    """Stop the runs not sent yet and refund their share at once, with the cancel request
    answered, in one transaction; a run already sent finishes. False: not an emulated order
    of this customer (the ordinary cancel applies). Raises CancelNotAvailable when there is
    nothing left to stop or a cancel was already made."""
    async with pool.transaction() as conn:
        cancellable = await conn.fetchval(Q.drip_cancel_target, customer_id, order_id)
        if cancellable is None:
            return False
        if not cancellable:
            raise errors.CancelNotAvailable()
        stopped = await conn.fetchval(Q.stop_unsent_runs, order_id)
        answer = f"canceled locally: {stopped} runs not sent"
        if await conn.fetchval(Q.record_drip_cancel, customer_id, order_id, answer) is None:
            raise errors.CancelNotAvailable()  # rolls the stop back
        moved = await _account(conn, order_id, reason=f"canceled: {stopped} runs not sent")
    log.info("drip_canceled", order=order_id, runs_stopped=stopped, refunded=str(moved))
    return True


# --- the order they make up ---


async def _account(conn: db.Transaction, order_id: int, *, reason: str) -> Decimal:
    """Under the order's lock: refund what its final runs leave undelivered, then settle it if
    no run is open, else refresh what the customer sees; what moved."""
    order = await conn.fetchrow(Q.lock_drip_order, order_id)
    if order["settled_at"] is not None:
        return Decimal(0)
    charge, total, remains = order["charge"], order["total_quantity"], order["final_remains"]
    owed = money.quantize_down(charge * remains / total)
    moved = await refunds.refund_to(conn, order_id, owed, reason=reason) if owed > 0 else Decimal(0)
    if order["open_runs"]:
        await conn.execute(Q.aggregate_runs, order_id)
        return moved
    await conn.execute(Q.aggregate_runs, order_id)  # cost and start count from the runs
    await conn.execute(Q.settle_drip_order, order_id, final_status(remains, total), remains)
    log.info("drip_order_settled", order=order_id, remains=remains, refunded=str(moved))
    return moved


def final_status(remains: int, total: int) -> OrderStatus:
    """The order's status once every run is final: by what they left undelivered."""
    if remains == 0:
        return OrderStatus.COMPLETED
    return OrderStatus.CANCELED if remains >= total else OrderStatus.PARTIAL
