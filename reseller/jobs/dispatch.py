"""Forwarding orders upstream without ever losing or doubling one.

An order is sent by exactly one task: the `add` handler kicks it right after its commit, and
a durable queue (the `orders` table) picks up whatever a crash, a restart or an unreachable
provider left behind. The claim (`queued` → `sending`) is committed before the request goes
out and only inside the provider's pacing slot, so a claimed order is always one whose request
is really leaving. The outcome then decides:

- placed: the upstream ID is stored, status `Processing`;
- waiting: its link already has an active order on that upstream service (one of ours, found
  at the claim, or one the provider's refusal tells of): it stays queued and goes when that
  one is final — two orders of one kind on one link underrun at the provider;
- refused (a JSON error): the next failover candidate, else `Canceled` with a full refund;
- not sent: back to the queue with backoff, and after `max_attempts` as refused;
- unknown: `uncertain` — never re-sent automatically; the operator (or a later proof from the
  upstream) resolves it. An order abandoned in flight (shutdown, crash) ends the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
from datetime import UTC, datetime, timedelta
from typing import Literal

from reseller import db, errors, logs, service_types
from reseller.config import DispatchConfig, LiveConfig
from reseller.db import Q
from reseller.jobs import requests, runs
from reseller.orders import lifecycle, upstream_match
from reseller.routing import assign
from reseller.states import DispatchState
from reseller.upstream import Upstreams

log = logs.get_logger()
# The dispatch state the order reached, or: back in the queue, or not this task's to send.
Outcome = Literal[
    DispatchState.PLACED,
    DispatchState.REFUSED,
    DispatchState.UNCERTAIN,
    "retrying",
    "waiting",
    "skipped",
]
PAUSED_RETRY_SECONDS = 30.0
# Panels that refuse a duplicate link name the active order ("… active order: 10001").
_ACTIVE_ORDER = re.compile(r"active order\D{0,20}(\d+)", re.IGNORECASE)


class Dispatcher:
    def __init__(self, pool: db.Database, config: LiveConfig, upstreams: Upstreams) -> None:
        self._pool = pool
        self._config = config
        self._upstreams = upstreams
        self._tasks: dict[int, asyncio.Task[tuple[Outcome, str | None]]] = {}
        self._forwarding = requests.Forwarder(pool, config, upstreams)
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._paused: set[str] = set()  # providers short of funds, as the balance job last saw

    # --- entry points ---

    def kick(self, order_id: int) -> asyncio.Task[tuple[Outcome, str | None]] | None:
        """Start sending this order now, unless it is already on its way; the queue catches
        anything not started here."""
        limit = self._config.current.dispatch.max_in_flight
        if self._stopping or order_id in self._tasks or len(self._tasks) >= limit:
            return None
        task = asyncio.create_task(self._dispatch(order_id))
        self._tasks[order_id] = task
        task.add_done_callback(functools.partial(self._finished, order_id))
        return task

    def _finished(self, order_id: int, task: asyncio.Task[tuple[Outcome, str | None]]) -> None:
        self._tasks.pop(order_id, None)
        # Retrieved here, for every task: a failed one leaves its order to the next scan.
        error = None if task.cancelled() else task.exception()
        if error is not None and not db.is_unavailable(error):  # an outage is the probe's
            log.error("dispatch_failed", order=order_id, exc_info=error)

    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._scan_forever())

    async def stop(self, grace: float = 10.0) -> None:
        """Take no new work, let calls in flight finish (bounded), then abandon the rest: an
        abandoned `add` is marked uncertain, never re-sent."""
        self._stopping = True
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        pending = list(self._tasks.values()) + self._forwarding.tasks()
        if pending:
            _, late = await asyncio.wait(pending, timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    def busy(self) -> bool:
        """Whether an order, refill or cancel task of this process is running."""
        return bool(self._tasks) or bool(self._forwarding.tasks())

    async def idle(self) -> None:
        """Wait until every task started so far has finished (whatever its outcome)."""
        while pending := [*self._tasks.values(), *self._forwarding.tasks()]:
            await asyncio.gather(*pending, return_exceptions=True)

    async def scan_once(self) -> None:
        """One pass over the durable queues (orders, drip-feed runs, refills, cancels)."""
        dispatch = self._config.current.dispatch
        self._paused = {r["provider"] for r in await self._pool.fetch(Q.paused_providers)}
        await lifecycle.abandon_stale(self._pool, dispatch.abandoned_after_seconds)
        for row in await self._pool.fetch(Q.due_orders, dispatch.max_in_flight):
            self.kick(row["id"])
        await runs.send_due(self._pool, self._upstreams, dispatch, self._paused)
        await self._forwarding.scan()

    async def _scan_forever(self) -> None:
        while True:
            try:
                await self.scan_once()
            except Exception as exc:  # the database being away must not end the loop
                if not db.is_unavailable(exc):  # an outage is logged by jobs.outage
                    log.warning("dispatch_scan_failed", error=str(exc))
            await asyncio.sleep(float(self._config.current.dispatch.scan_seconds))

    # --- one order ---

    async def _dispatch(self, order_id: int) -> tuple[Outcome, str | None]:
        await assign.assign(self._pool, order_id, self._config.current.routing.explore_every)
        while True:
            order = await self._pool.fetchrow(Q.order_for_dispatch, order_id)
            if order is None or order["dispatch_state"] != DispatchState.QUEUED:
                return "skipped", None
            if order["provider"] is None:  # no candidate left
                reason = order_reason(order)
                await lifecycle.refused(self._pool, order_id, reason)
                return DispatchState.REFUSED, reason
            if order["provider"] in self._paused:  # waits for funds instead of a refusal
                await lifecycle.defer(self._pool, order_id, PAUSED_RETRY_SECONDS)
                return "retrying", f"{order['provider']} is paused (balance)"
            if order["provider"] not in self._upstreams or costs_more_than_paid(order):
                await lifecycle.skip_candidate(self._pool, order_id, order["dispatch_candidate"])
                continue
            outcome = await self._send(order)
            if outcome != "next":
                return outcome

    async def _send(self, order: db.Record) -> tuple[Outcome, str | None] | Literal["next"]:
        order_id, candidate = order["id"], order["dispatch_candidate"]
        client = self._upstreams[order["provider"]]
        fields = {
            "service": order["upstream_service"],
            **service_types.upstream_fields(
                order["type"],
                link=order["link"],
                quantity=order["quantity"],
                runs=order["runs"],
                interval=order["run_interval"],
                fields=order["fields"],
            ),
        }
        dispatch = self._config.current.dispatch
        async with client.slot():
            provider, service = order["provider"], order["upstream_service"]
            claim = await lifecycle.claim(
                self._pool,
                order_id,
                candidate,
                provider,
                service,
                link_key=order["link_key"],
                wait_seconds=float(dispatch.link_wait_seconds),
            )
            if claim.waiting_for is not None:
                log.info("order_waiting_for_link", order=order_id, waiting_for=claim.waiting_for)
                return "waiting", f"waiting for order {claim.waiting_for} on this link"
            if not claim.claimed:
                return "skipped", None
            refusal: str | None
            try:
                upstream_id = await client.add(fields, paced=False)
            except errors.UpstreamRefused as exc:
                refusal = exc.message
            except errors.UpstreamNotSent as exc:
                return await self._retry_later(order, exc.message)
            except asyncio.CancelledError:
                await asyncio.shield(self._uncertain(order_id, "abandoned in flight at shutdown"))
                raise
            except Exception as exc:  # unknown outcome, or a surprise: it may have gone out
                return await self._uncertain(order_id, str(exc)), str(exc)
            else:
                refusal = None
        if refusal is None:
            return await self._placed(order_id, upstream_id)
        waited = datetime.now(UTC) - order["created_at"]
        if (
            link_busy(refusal, dispatch)
            and order["link"] is not None
            and waited < timedelta(minutes=dispatch.link_wait_max_minutes)
        ):
            # Outside the pacing slot: the proof asks the provider, which needs a slot of its own.
            holder = await self._prove_twin(order, refusal)
            why = f"waiting: {provider} says the link has an active order: {refusal}"
            seconds = float(dispatch.link_wait_seconds)
            await lifecycle.wait_for_link(self._pool, order_id, candidate, holder, seconds, why)
            log.info("order_waiting_for_link", order=order_id, waiting_for=holder, reason=refusal)
            return "waiting", why
        await lifecycle.requeued(self._pool, order_id, candidate + 1, why=refusal)
        log.info("order_refused_by_candidate", order=order_id, reason=refusal)
        await self._prove_twin(order, refusal)
        return "next"

    async def _placed(self, order_id: int, upstream_id: str) -> tuple[Outcome, str | None]:
        try:
            await lifecycle.placed(self._pool, order_id, upstream_id)
        except errors.DuplicateUpstreamOrder as exc:
            return await self._uncertain(order_id, f"{exc.message}: {upstream_id}"), exc.message
        log.info("order_placed", order=order_id, upstream_order=upstream_id)
        return DispatchState.PLACED, None

    async def _retry_later(self, order: db.Record, why: str) -> tuple[Outcome, str | None]:
        dispatch = self._config.current.dispatch
        attempts, candidate = order["dispatch_attempts"] + 1, order["dispatch_candidate"]
        if attempts >= dispatch.max_attempts:  # as refused: try the next candidate
            await lifecycle.requeued(self._pool, order["id"], candidate + 1, why=why)
            return "retrying", why
        delay = requests.backoff(
            float(dispatch.retry_seconds), attempts, longest=requests.MAX_DELAY
        )
        await lifecycle.requeued(self._pool, order["id"], candidate, delay=delay, why=why)
        log.info("order_retry", order=order["id"], attempt=attempts, delay=delay, reason=why)
        return "retrying", why

    async def _uncertain(self, order_id: int, why: str) -> Outcome:
        await lifecycle.uncertain(self._pool, order_id, why)
        return DispatchState.UNCERTAIN

    async def _prove_twin(self, order: db.Record, message: str) -> int | None:
        """A refusal naming an active upstream order for this link suggests that an uncertain
        earlier order with the same link did reach the provider. It proves nothing by itself
        (anyone may have ordered that link on the panel): the two are linked only when the
        provider's own status for the named order fits ours (`upstream_match`). The twin it
        linked, if any."""
        found = _ACTIVE_ORDER.search(message)
        if found is None or order["link"] is None:
            return None
        twins = await self._pool.fetch(
            Q.uncertain_twins, order["provider"], order["upstream_service"], order["link"]
        )
        if len(twins) != 1:
            return None
        twin, upstream_id = twins[0]["id"], found.group(1)
        why = await upstream_match.check(self._pool, self._upstreams, twin, upstream_id)
        if why is None:
            try:
                await lifecycle.resolved_placed(self._pool, twin, upstream_id)
                return int(twin)
            except (errors.DuplicateUpstreamOrder, errors.NotFound) as exc:  # changed meanwhile
                why = exc.message
        log.warning(
            "order_uncertain_not_linked",
            order=twin,
            upstream_order=upstream_id,
            proof="duplicate-link refusal",
            reason=why,
        )
        return None


def link_busy(refusal: str, dispatch: DispatchConfig) -> bool:
    """Whether a refusal says the link already has an active order (in any of the wordings
    `dispatch.active_link_refusals` lists)."""
    text = refusal.lower()
    return any(phrase in text for phrase in dispatch.active_link_refusals)


def costs_more_than_paid(order: db.Record) -> bool:
    """Whether this candidate would charge us more for the order than the customer paid, both
    in the base currency: the price was fixed at `add`, in the customer's currency at its rate
    then, and the candidate's cost may have risen since. Never sold at a loss."""
    if order["cost_rate"] is None:  # not synced yet: the configured static price stands
        return False
    units = order["quantity"] * (order["runs"] or 1)
    per_package = order["type"] in service_types.PACKAGE_TYPES
    cost = order["cost_rate"] if per_package else order["cost_rate"] * units / 1000
    return bool(cost > order["charge"] * order["currency_rate"])


def order_reason(order: db.Record) -> str:
    """The customer-facing reason: the last upstream refusal, when there was one."""
    return order["dispatch_error"] or "no upstream provider offers this service now"
