"""Scheduled sync work: order statuses (100 per request), refills, provider balances.

Polling claims its batches in the database (stamp `last_polled_at` under SKIP LOCKED), so any
number of processes poll side by side without asking for one order twice in a round. Money
moves only through `settlement.refund_to`, which refunds the gap to what is owed: a batch seen
twice, two overlapping runs or a restart mid-batch never refund twice.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

import structlog

from reseller import db, errors, metrics, money
from reseller.catalog import pricing
from reseller.catalog import sync as catalog_sync
from reseller.config import Config, ProviderConfig, SyncConfig
from reseller.db import Q
from reseller.orders import refunds as settlement
from reseller.upstream import ProviderClient
from reseller.upstream.parse import OrderStatus

log = structlog.get_logger()
BATCH = 100  # the most IDs API v2 takes in one `status` or `refill_status` call
FINAL = frozenset({"Completed", "Partial", "Canceled"})
_CURRENCY_CHARS = 16  # a currency a panel names is a short code; more is a broken answer


async def poll_statuses(pool: db.Pool, client: ProviderClient, sync: SyncConfig) -> Counter[str]:
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

    async def write(by_upstream: dict[str, int], answers: Answers) -> None:
        try:
            counts.update(await _record(pool, by_upstream, answers, sync))
        finally:
            writing.release()

    async def worker() -> None:
        while batch := await claim():
            counts["requests"] += 1
            by_upstream = {r["upstream_order_id"]: r["id"] for r in batch}
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


Answers = dict[str, OrderStatus | errors.UpstreamRefused]


async def _record(
    pool: db.Pool, by_upstream: dict[str, int], answers: Answers, sync: SyncConfig
) -> Counter[str]:
    """Store one batch's answers: progress in one statement, final statuses settled."""
    counts: Counter[str] = Counter()
    progress: list[tuple[int, str, int | None, int | None, Decimal | None]] = []
    for upstream_id, answer in answers.items():
        order_id = by_upstream[upstream_id]
        if isinstance(answer, errors.UpstreamRefused):
            why = f"provider does not know it: {answer.message}"
            flagged = await count_poll_error(pool, order_id, why, sync.max_poll_errors)
            counts["flagged" if flagged else "unknown_upstream"] += 1
        elif answer.status in FINAL:
            moved = await settle(pool, order_id, answer, max_poll_errors=sync.max_poll_errors)
            counts["unusable" if moved is None else "refunded" if moved else "settled"] += 1
        elif answer.status is not None:
            progress.append(
                (order_id, answer.status, answer.remains, answer.start_count, answer.charge)
            )
        else:
            counts["unreadable"] += 1
    if progress:
        await pool.execute(Q.apply_progress, *map(list, zip(*progress, strict=True)))
        counts["progress"] += len(progress)
    return counts


async def count_poll_error(
    pool: db.Pool | db.Connection, order_id: int, why: str, max_poll_errors: int
) -> bool:
    """An answer that cannot be used: poll again, and after `max_poll_errors` in a row stop
    and flag the order for the operator, its money still held. Whether it is flagged now."""
    stopped = await pool.fetchval(Q.count_poll_error, order_id, max_poll_errors, why)
    if stopped is not None:
        log.warning("order_flagged", order=order_id, reason=stopped)
    return stopped is not None


async def settle(
    pool: db.Pool, order_id: int, answer: OrderStatus, *, max_poll_errors: int = 10
) -> Decimal | None:
    """Record the final status and refund what it leaves undelivered; what moved now. None: the
    answer's numbers cannot be settled on (counted as a poll error, nothing moved)."""
    async with pool.acquire() as conn, conn.transaction():
        order = await conn.fetchrow(Q.lock_for_settlement, order_id)
        if order["settled_at"] is not None:
            return Decimal(0)
        if (why := unusable(answer, order["total_quantity"])) is not None:
            await count_poll_error(conn, order_id, why, max_poll_errors)
            return None
        owed = owed_back(order["charge"], order["total_quantity"], answer)
        moved = Decimal(0)
        if owed > 0:
            moved = await settlement.refund_to(
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
    log.info("order_settled", order=order_id, status=answer.status, refunded=str(moved))
    return moved


def unusable(answer: OrderStatus, total_quantity: int) -> str | None:
    """Why a final answer cannot be settled on, or None. A Partial owes back its undelivered
    share, so its `remains` must say how much that is: missing, unknown, negative, zero (a
    Partial with nothing undelivered contradicts itself) or above the quantity, it cannot."""
    if answer.status != "Partial":
        return None
    if answer.remains is None:
        return "Partial without a usable remains"
    if not 0 < answer.remains <= total_quantity:
        return f"Partial with remains {answer.remains} of {total_quantity}"
    return None


def owed_back(charge: Decimal, total_quantity: int, answer: OrderStatus) -> Decimal:
    """Canceled: everything. Partial: charge × remains / quantity, rounded down so a refund
    never exceeds what is undelivered. Completed: nothing. Call only on a usable answer."""
    if answer.status == "Canceled":
        return charge
    if answer.status == "Partial":
        why = unusable(answer, total_quantity)
        if why is not None or answer.remains is None:
            raise ValueError(f"cannot settle on it: {why}")
        return money.quantize_down(charge * answer.remains / total_quantity)
    return Decimal(0)


async def poll_refills(pool: db.Pool, client: ProviderClient, sync: SyncConfig) -> Counter[str]:
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


@dataclass(frozen=True, slots=True)
class BalanceCheck:
    balance: Decimal
    currency: str  # as the provider named it; its configured one when it named none
    low: bool  # below `balance_alert`
    mismatch: str | None  # why its services are off sale: it names another currency


async def check_balance(pool: db.Pool, client: ProviderClient, config: Config) -> BalanceCheck:
    """The provider's balance, recorded; whether it is below the configured alert. Below
    `pause_below` the provider is paused: dispatch keeps its orders queued. A currency other
    than the configured one takes its services off sale (its costs would be converted at the
    wrong rate): the catalog is rebuilt from `config` whenever that changes."""
    balance, named = await client.balance()
    provider: ProviderConfig = client.provider
    # Kept as named (upper case), not cut to three letters: "USDT" must not pass for "USD".
    currency = named.strip().upper()[:_CURRENCY_CHARS] or provider.currency
    low = provider.balance_alert is not None and balance < provider.balance_alert
    paused = provider.pause_below is not None and balance < provider.pause_below
    before = await pool.fetchval(Q.provider_currency, client.name)
    await pool.execute(Q.record_provider_balance, client.name, balance, currency, low, paused)
    if low or paused:
        log.warning(
            "provider_balance_low",
            provider=client.name,
            balance=str(balance),
            alert_below=str(provider.balance_alert),
            paused=paused,
        )
    mismatch = pricing.currency_mismatch(client.name, provider.currency, currency)
    if mismatch is not None:
        metrics.PROVIDER_CURRENCY_MISMATCH.labels(client.name).inc()
        log.warning(
            "provider_currency_mismatch",
            provider=client.name,
            reported=currency,
            configured=provider.currency,
            reason=mismatch,
        )
    if mismatch != pricing.currency_mismatch(client.name, provider.currency, before):
        await catalog_sync.rebuild(pool, config)  # off sale (or back) now, not at the next sync
    return BalanceCheck(balance, currency, low, mismatch)


async def stop_polling_old(pool: db.Pool, sync: SyncConfig) -> int:
    stopped = await pool.fetch(Q.stop_polling_old, sync.max_age_days)
    for row in stopped:
        log.warning("order_too_old_to_poll", order=row["id"], max_age_days=sync.max_age_days)
    return len(stopped)
