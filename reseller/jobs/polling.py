"""Polling the providers: order statuses and refill statuses, 100 per request.

Polling claims its batches in the database (stamp `last_polled_at` under SKIP LOCKED), so any
number of processes poll side by side without asking for one order twice in a round. What an
answer means for an order is one `orders.lifecycle` transition (progress, settle, poll error),
whose refund brings the order up to what it is owed: a batch seen twice, two overlapping runs
or a restart mid-batch never refund twice.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from reseller import db, errors, logs
from reseller.config import SyncConfig
from reseller.db import Q
from reseller.orders import lifecycle, provider_check, strict
from reseller.states import OrderStatus
from reseller.upstream import ProviderClient
from reseller.upstream.parse import StatusAnswer

log = logs.get_logger()
BATCH = 100  # the most IDs API v2 takes in one `status` or `refill_status` call
FINAL = frozenset({OrderStatus.COMPLETED, OrderStatus.PARTIAL, OrderStatus.CANCELED})


async def poll_statuses(
    pool: db.Database, client: ProviderClient, sync: SyncConfig
) -> Counter[str]:
    """One pass over the provider's open orders, several batches in flight (its limits)."""
    counts: Counter[str] = Counter()
    cutoff = await pool.fetchval(Q.poll_cutoff, float(sync.min_poll_seconds))
    # Claims one at a time (they take milliseconds) so that batches come out full and the
    # keyset cursor moves in order; the calls run in parallel.
    claiming = asyncio.Lock()
    after_id = 0

    async def claim() -> list[db.Record]:
        nonlocal after_id
        async with claiming:
            batch = await pool.fetch(Q.claim_poll_batch, client.name, cutoff, BATCH, after_id)
            if batch:
                after_id = max(r["id"] for r in batch)
            return batch

    concurrency = client.provider.max_concurrency
    # Writing a batch's answers overlaps the next call instead of delaying it; at most one
    # write per worker waits, so memory stays flat however many orders there are.
    writing = asyncio.Semaphore(concurrency)
    writes: set[asyncio.Task[None]] = set()
    strict_answers = client.provider.strict_answers

    async def write(by_upstream: dict[str, db.Record], answers: Answers) -> None:
        try:
            counts.update(
                await _record(pool, by_upstream, answers, sync, strict_answers=strict_answers)
            )
        except Exception as exc:  # its orders stay as they were (each transition is atomic)
            counts["write_failed"] += len(by_upstream)  # and are polled again next round
            if not db.is_unavailable(exc):
                log.warning("status_write_failed", provider=client.name, error=str(exc))
        finally:
            writing.release()

    async def worker() -> None:
        while batch := await claim():
            counts["requests"] += 1
            by_upstream = {r["upstream_order_id"]: r for r in batch}
            try:
                answers = await client.statuses(list(by_upstream))
            except errors.UpstreamError as exc:
                counts["failed"] += len(batch)  # polled again next round
                log.warning("status_poll_failed", provider=client.name, error=exc.message)
                continue
            await writing.acquire()
            task = asyncio.create_task(write(by_upstream, answers))
            writes.add(task)
            task.add_done_callback(writes.discard)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    await asyncio.gather(*writes)
    return counts


Answers = dict[str, StatusAnswer | errors.UpstreamRefused]


async def _record(
    pool: db.Database,
    by_upstream: dict[str, db.Record],
    answers: Answers,
    sync: SyncConfig,
    *,
    strict_answers: bool,
) -> Counter[str]:
    """Store one batch's answers: progress in one statement, final statuses settled, answers
    outside the strict table (when `strict_answers`) freezing their orders."""
    counts: Counter[str] = Counter()
    progress: list[lifecycle.Progress] = []
    thawed: list[db.Record] = []  # frozen until this sane answer
    checked: list[int] = []  # open orders whose charge the provider check compares
    for upstream_id, answer in answers.items():
        order = by_upstream[upstream_id]
        order_id = order["id"]
        if isinstance(answer, errors.UpstreamRefused):
            unknown = f"provider does not know it: {answer.message}"
            flagged = await lifecycle.poll_error(pool, order_id, unknown, sync.max_poll_errors)
            counts["flagged" if flagged else "unknown_upstream"] += 1
        elif strict_answers and (why := strict.outside(answer, strict.Limits.of(order))):
            await lifecycle.frozen(pool, order_id, why, answer.raw, answer.charge)
            checked.append(order_id)  # an overcharge it froze on is the provider's loss too
            counts["frozen"] += 1
        elif answer.status in FINAL:
            moved = await lifecycle.settle(
                pool,
                order_id,
                answer,
                max_poll_errors=sync.max_poll_errors,
                loss_tolerance=sync.loss_tolerance,
            )
            counts["unusable" if moved is None else "refunded" if moved else "settled"] += 1
            thawed += [order] if moved is not None and order["frozen"] else []
        elif answer.status is not None:
            checked.append(order_id)
            progress.append(
                (order_id, answer.status, answer.remains, answer.start_count, answer.charge)
            )
            thawed += [order] if order["frozen"] else []
        else:
            counts["unreadable"] += 1
    await lifecycle.progressed(pool, progress)
    counts["progress"] += len(progress)
    if checked:  # an overcharge shows before the order ends
        await provider_check.check(pool, checked, tolerance=sync.loss_tolerance)
    for order in thawed:
        log.info("order_unfrozen", order=order["id"], was=order["frozen"])
    return counts


async def poll_refills(pool: db.Database, client: ProviderClient, sync: SyncConfig) -> Counter[str]:
    counts: Counter[str] = Counter()
    cutoff = await pool.fetchval(Q.poll_cutoff, float(sync.min_poll_seconds))
    while batch := await pool.fetch(Q.claim_refill_poll_batch, client.name, cutoff, BATCH):
        counts["requests"] += 1
        by_upstream = {r["upstream_refill_id"]: r["id"] for r in batch}
        try:
            answers = await client.refill_statuses(list(by_upstream))
        except errors.UpstreamError as exc:
            log.warning("refill_poll_failed", provider=client.name, error=exc.message)
            counts["failed"] += len(batch)
            break
        known = [(by_upstream[u], s) for u, s in answers.items() if isinstance(s, str)]
        counts["updated"] += len(known)
        counts["unknown_upstream"] += len(answers) - len(known)
        if known:
            await pool.execute(Q.apply_refill_statuses, *map(list, zip(*known, strict=True)))
    return counts


async def stop_polling_old(pool: db.Database, sync: SyncConfig) -> int:
    return len(await lifecycle.too_old_to_poll(pool, sync.max_age_days))
