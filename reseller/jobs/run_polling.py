"""Polling the runs of emulated drip-feed orders, 100 per request like orders: each answer is
one `orders.drip` transition (the run's progress, or its end with the order's refund and, when
it was the last, its settlement), so a batch seen twice or two pollers refund nothing twice.
"""

from __future__ import annotations

from collections import Counter

from reseller import db, errors, logs
from reseller.config import SyncConfig
from reseller.db import Q
from reseller.jobs.polling import BATCH, FINAL
from reseller.orders import drip, refunds
from reseller.states import OrderStatus
from reseller.upstream import ProviderClient
from reseller.upstream.parse import StatusAnswer

log = logs.get_logger()


async def poll_runs(pool: db.Database, client: ProviderClient, sync: SyncConfig) -> Counter[str]:
    counts: Counter[str] = Counter()
    cutoff = await pool.fetchval(Q.poll_cutoff, float(sync.min_poll_seconds))
    while batch := await pool.fetch(Q.claim_run_poll_batch, client.name, cutoff, BATCH):
        counts["run_requests"] += 1
        by_upstream = {r["upstream_order_id"]: r for r in batch}
        try:
            answers = await client.statuses(list(by_upstream))
        except errors.UpstreamError as exc:
            log.warning("run_poll_failed", provider=client.name, error=exc.message)
            counts["run_failed"] += len(batch)  # polled again next round
            break
        for upstream_id, answer in answers.items():
            counts[await _record(pool, by_upstream[upstream_id], answer)] += 1
    return counts


async def _record(
    pool: db.Database, run: db.Record, answer: StatusAnswer | errors.UpstreamRefused
) -> str:
    if isinstance(answer, errors.UpstreamRefused) or answer.status is None:
        return "run_unreadable"  # kept as it was, asked again next round
    quantity = run["quantity"]
    final = answer.status in FINAL
    if final and refunds.unusable(answer, quantity) is not None:
        log.warning("run_answer_unusable", order=run["order_id"], run=run["run"])
        return "run_unusable"
    remains = _remains(answer, quantity) if final else _bounded(answer.remains, quantity)
    moved = await drip.answered(
        pool,
        run["order_id"],
        run["run"],
        status=answer.status,
        remains=remains,
        start_count=answer.start_count,
        cost=answer.charge if answer.charge is None or answer.charge >= 0 else None,
        final=final,
    )
    return "run_refunded" if moved else "run_final" if final else "run_progress"


def _remains(answer: StatusAnswer, quantity: int) -> int:
    """What a final run left undelivered: all of it when canceled, none when completed."""
    if answer.status == OrderStatus.CANCELED:
        return quantity
    if answer.status == OrderStatus.PARTIAL and answer.remains is not None:
        return answer.remains
    return 0


def _bounded(remains: int | None, quantity: int) -> int | None:
    """Progress as a panel reports it, kept within the run (panels send -5 or more than asked)."""
    return None if remains is None else min(max(remains, 0), quantity)
