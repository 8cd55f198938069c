"""Sending the runs of emulated drip-feed orders (`orders.drip`), from the dispatcher's scan.

A run is sent like an order: claimed (`queued` → `sending`) and committed inside the
provider's pacing slot right before its request leaves, so a restart never sends it twice;
a run left in flight becomes uncertain, never re-sent; a due run still queued after a restart
is simply sent late, never skipped. A refusal tries the service's next candidate (a busy link
waits instead); with none left the run ends undelivered and its share is refunded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection

from reseller import db, errors, logs, service_types
from reseller.config import DispatchConfig
from reseller.db import Q
from reseller.jobs import dispatch, requests
from reseller.orders import drip
from reseller.states import DispatchState
from reseller.upstream import Upstreams

log = logs.get_logger()


async def send_due(
    pool: db.Database, upstreams: Upstreams, config: DispatchConfig, paused: Collection[str]
) -> None:
    """Send every run whose time has come (at most `max_in_flight` at once); `paused`: the
    providers short of funds, whose runs wait."""
    await drip.abandon_stale(pool, config.abandoned_after_seconds)
    due = await pool.fetch(Q.due_runs, config.max_in_flight)
    await asyncio.gather(
        *(_send(pool, upstreams, config, paused, r["order_id"], r["run"]) for r in due)
    )


async def _send(
    pool: db.Database,
    upstreams: Upstreams,
    config: DispatchConfig,
    paused: Collection[str],
    order_id: int,
    run_no: int,
) -> None:
    while True:
        run = await pool.fetchrow(Q.run_for_dispatch, order_id, run_no)
        if run is None or run["dispatch_state"] != DispatchState.QUEUED:
            return
        candidate, provider = run["candidate"], run["provider"]
        if provider is None:  # no candidate left
            await drip.refused(pool, order_id, run_no, dispatch.order_reason(run))
            return
        if provider in paused:  # waits for funds instead of a refusal
            why = f"{provider} is paused (balance)"
            delay = dispatch.PAUSED_RETRY_SECONDS
            await _requeue(pool, run, candidate, delay=delay, why=why)
            return
        if provider not in upstreams or dispatch.costs_more_than_paid(run):
            await _requeue(pool, run, candidate + 1, delay=0.0, why=f"{provider} skipped")
            continue
        if not await _sent(pool, upstreams, config, run):
            return


async def _sent(
    pool: db.Database, upstreams: Upstreams, config: DispatchConfig, run: db.Record
) -> bool:
    """One attempt on the run's candidate. False: done with it for now; True: refused by this
    candidate and moved to the next, to be tried at once."""
    order_id, run_no, candidate = run["order_id"], run["run"], run["candidate"]
    client = upstreams[run["provider"]]
    fields = {
        "service": run["upstream_service"],
        **service_types.upstream_fields(
            run["type"],
            link=run["link"],
            quantity=run["quantity"],
            runs=None,
            interval=None,
            fields=run["fields"],
        ),
    }
    refusal: str | None
    async with client.slot():
        claimed = await drip.claim(
            pool, order_id, run_no, candidate, run["provider"], run["upstream_service"]
        )
        if not claimed:
            return False
        try:
            upstream_id = await client.add(fields, paced=False)
        except errors.UpstreamRefused as exc:
            refusal = exc.message
        except errors.UpstreamNotSent as exc:
            attempts = run["dispatch_attempts"] + 1
            if attempts >= config.max_attempts:  # as refused: the next candidate
                await _requeue(pool, run, candidate + 1, delay=0.0, why=exc.message)
                return True
            delay = requests.backoff(
                float(config.retry_seconds), attempts, longest=requests.MAX_DELAY
            )
            await _requeue(pool, run, candidate, delay=delay, why=exc.message)
            return False
        except asyncio.CancelledError:
            await asyncio.shield(drip.uncertain(pool, order_id, run_no, "abandoned at shutdown"))
            raise
        except Exception as exc:  # unknown outcome, or a surprise: it may have gone out
            await drip.uncertain(pool, order_id, run_no, str(exc))
            return False
        else:
            refusal = None
    if refusal is None:
        try:
            await drip.placed(pool, order_id, run_no, upstream_id)
        except errors.DuplicateUpstreamOrder as exc:
            await drip.uncertain(pool, order_id, run_no, f"{exc.message}: {upstream_id}")
        return False
    if dispatch.link_busy(refusal, config):  # the previous run still runs there: wait
        delay = float(config.link_wait_seconds)
        await _requeue(pool, run, candidate, delay=delay, why=f"waiting: {refusal}")
        return False
    log.info("run_refused_by_candidate", order=order_id, run=run_no, reason=refusal)
    await _requeue(pool, run, candidate + 1, delay=0.0, why=refusal)
    return True


async def _requeue(
    pool: db.Database, run: db.Record, next_candidate: int, *, delay: float, why: str
) -> None:
    await drip.requeued(
        pool,
        run["order_id"],
        run["run"],
        candidate=run["candidate"],
        next_candidate=next_candidate,
        delay=delay,
        why=why,
    )
