"""Forwarding refill and cancel requests upstream, tracked like orders.

A refill follows the rule of `add`: one whose outcome is unknown (timeout after sending, reset,
5xx, not JSON, or left in flight by a process that stopped) may have been placed, and a panel
takes a second refill as a second refill (or refuses it as a duplicate while the first runs),
so it is never re-sent automatically: it stays open as `uncertain` for the operator. Only a
request that provably never left is retried with backoff, up to `max_attempts`.

A cancel sent twice is refused the second time, so any failure short of a definitive refusal
is retried. It refunds nothing by itself: the refund follows the provider's
`Canceled`/`Partial` status, except for an order still in our queue, which is canceled here and
never sent.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable

from reseller import db, errors, logs
from reseller.config import LiveConfig
from reseller.db import Q
from reseller.orders import lifecycle
from reseller.states import DispatchState
from reseller.upstream import Upstreams

log = logs.get_logger()
BATCH = 100
MAX_DELAY = 3600.0  # the longest backoff: a retried order or request is looked at hourly at least


class Forwarder:
    def __init__(self, pool: db.Database, config: LiveConfig, upstreams: Upstreams) -> None:
        self._pool = pool
        self._config = config
        self._upstreams = upstreams
        self._running: dict[tuple[str, int], asyncio.Task[None]] = {}

    def tasks(self) -> list[asyncio.Task[None]]:
        return list(self._running.values())

    async def scan(self) -> None:
        horizon = self._config.current.dispatch.abandoned_after_seconds
        for row in await self._pool.fetch(Q.abandon_stale_refills, horizon):
            log.warning("refill_uncertain", refill=row["id"], reason="abandoned in flight")
        await self._pool.execute(Q.requeue_stale_cancels, horizon)
        for row in await self._pool.fetch(Q.due_refills, BATCH):
            self._start("refill", row["id"], self._refill)
        for row in await self._pool.fetch(Q.due_cancels, BATCH):
            self._start("cancel", row["id"], self._cancel)

    def _start(self, kind: str, item_id: int, work: Callable[[int], Awaitable[None]]) -> None:
        key = (kind, item_id)
        if key not in self._running:
            task = asyncio.create_task(_logged(kind, item_id, work))
            self._running[key] = task
            task.add_done_callback(lambda _: self._running.pop(key, None))

    async def _refill(self, refill_id: int) -> None:
        claimed = await self._pool.fetchrow(Q.claim_refill, refill_id)
        if claimed is None:
            return
        try:
            client = self._upstreams[claimed["provider"]]
            upstream_id = await client.refill(claimed["upstream_order_id"])
        except errors.UpstreamRefused as exc:
            await self._pool.execute(Q.refill_rejected, refill_id, exc.message)
            log.info("refill_rejected", refill=refill_id, reason=exc.message)
        except (errors.UpstreamNotSent, KeyError) as exc:  # KeyError: its provider left the config
            await self._retry(Q.requeue_refill, Q.refill_rejected, claimed, str(exc))
        except asyncio.CancelledError:
            await asyncio.shield(self._uncertain(refill_id, "abandoned in flight at shutdown"))
            raise
        except Exception as exc:  # unknown outcome, or a surprise: it may have gone out
            await self._uncertain(refill_id, str(exc))
        else:
            await self._pool.execute(Q.refill_placed, refill_id, upstream_id)
            log.info("refill_placed", refill=refill_id, upstream_refill=upstream_id)

    async def _uncertain(self, refill_id: int, why: str) -> None:
        await self._pool.execute(Q.refill_uncertain, refill_id, why)
        log.warning("refill_uncertain", refill=refill_id, reason=why)

    async def _cancel(self, cancel_id: int) -> None:
        claimed = await self._pool.fetchrow(Q.claim_cancel, cancel_id)
        if claimed is None:
            return
        state = claimed["order_state"]
        if state == DispatchState.QUEUED and await lifecycle.canceled_before_dispatch(
            self._pool, claimed["order_id"], cancel_id
        ):
            return
        if state != DispatchState.PLACED:  # in flight or uncertain: wait for its upstream ID
            await self._pool.execute(Q.requeue_cancel, cancel_id, self._delay(claimed), state)
            return
        try:
            answer = await self._upstreams[claimed["provider"]].cancel(
                [claimed["upstream_order_id"]]
            )
            result = answer[claimed["upstream_order_id"]]
        except (errors.UpstreamNotSent, errors.UpstreamUnknown, KeyError) as exc:
            await self._retry(Q.requeue_cancel, Q.cancel_answered_refused, claimed, str(exc))
            return
        except errors.UpstreamRefused as exc:
            result = exc
        if isinstance(result, errors.UpstreamRefused):
            await self._pool.execute(
                Q.cancel_answered, cancel_id, DispatchState.REFUSED, result.message
            )
        else:
            await self._pool.execute(Q.cancel_answered, cancel_id, DispatchState.PLACED, "accepted")
        log.info("cancel_forwarded", cancel=cancel_id, accepted=result is True)

    async def _retry(self, requeue: str, give_up: str, claimed: db.Record, why: str) -> None:
        if claimed["dispatch_attempts"] >= self._config.current.dispatch.max_attempts:
            await self._pool.execute(give_up, claimed["id"], f"gave up: {why}")
        else:
            await self._pool.execute(requeue, claimed["id"], self._delay(claimed), why)

    def _delay(self, claimed: db.Record) -> float:
        first = float(self._config.current.dispatch.retry_seconds)
        return backoff(first, claimed["dispatch_attempts"], longest=MAX_DELAY)


def backoff(first: float, attempt: int, *, longest: float = math.inf) -> float:
    """Seconds to wait after failed attempt number `attempt` (1, 2, …) of an order, a refill or
    a cancel: `first`, doubling with each attempt, at most `longest`."""
    # A cancel waiting on an uncertain order is retried for ever: the exponent stops where the
    # float would overflow, long after any `longest` is reached.
    return min(first * 2.0 ** min(attempt - 1, 1000), longest)


async def _logged(kind: str, item_id: int, work: Callable[[int], Awaitable[None]]) -> None:
    """A failure here (the database gone) leaves the request queued or in flight; the next
    scan picks up a queued one, and the stale-request sweep one left in flight (a refill then
    turns uncertain, a cancel goes back to the queue)."""
    try:
        await work(item_id)
    except Exception as exc:
        if not db.is_unavailable(exc):  # an outage is logged by jobs.outage
            log.exception("forwarding_failed", kind=kind, id=item_id)
