"""The scheduled jobs (APScheduler 3.x, AsyncIOScheduler): status sync, refill sync, provider
balances, catalog resync, spend tiers, alerts, provider quality and routes.

Jobs coalesce and never overlap themselves (max_instances=1); each logs one line per run with
its counts and duration, and one provider failing never stops the others. Across processes,
status and refill polling share the work through row claims; the balance, catalog, tiers and
alerts jobs, which would only repeat each other, run in one process at a time (PostgreSQL
advisory lock).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from reseller import customers, db, errors, locks, logs, metrics
from reseller.alerts.notifier import Notifier
from reseller.catalog import sync as catalog_sync
from reseller.config import LiveConfig
from reseller.db import Q
from reseller.jobs import balances, polling, run_polling
from reseller.routing import plan as routing_plan
from reseller.upstream import ProviderClient, Upstreams

log = logs.get_logger()


class Jobs:
    def __init__(self, pool: db.Database, config: LiveConfig, upstreams: Upstreams) -> None:
        self._pool = pool
        self._config = config
        self._upstreams = upstreams
        self._scheduler: AsyncIOScheduler | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._notifier = Notifier()

    def start(self) -> None:
        """Schedule every job, the first runs right away."""
        settings = self._config.current.sync
        alerts = self._config.current.alerts
        self._scheduler = AsyncIOScheduler(
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
            timezone=UTC,
        )
        for name, seconds in (
            ("status", settings.status_seconds),
            ("refills", settings.refill_seconds),
            ("balances", settings.balance_seconds),
            ("catalog", settings.catalog_seconds),
            ("tiers", settings.tier_seconds),
            ("alerts", alerts.check_seconds),  # scheduled with none: a reload may add some
            ("routing", self._config.current.routing.refresh_seconds),
        ):
            self._scheduler.add_job(
                self._run,
                "interval",
                args=[name],
                id=name,
                seconds=float(seconds),
                next_run_time=datetime.now(UTC),
            )
        self._scheduler.start()

    async def stop(self, grace: float = 10.0) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
        if self._running:
            _, late = await asyncio.wait(self._running, timeout=grace)
            for task in late:  # their work is safe to cut: claims expire, refunds are atomic
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        await self._notifier.close()

    async def _run(self, name: str) -> None:
        """One run of a job, whatever happens in it."""
        task = asyncio.current_task()
        assert task is not None
        self._running.add(task)
        started = time.perf_counter()
        result = "ok"
        try:
            counts = await getattr(self, name)()
            log.info("job_run", job=name, duration_ms=_ms(started), **counts)
        except Exception as exc:
            result = "failed"
            if not db.is_unavailable(exc):  # an outage is logged by jobs.outage
                log.exception("job_failed", job=name, duration_ms=_ms(started))
        except asyncio.CancelledError:
            # Cut by `stop` after the grace: expected, and its work is safe to cut. Ended
            # here, so APScheduler does not log it as a job failure with a traceback.
            result = "cancelled"
            log.info("job_cancelled", job=name, duration_ms=_ms(started))
        finally:
            self._running.discard(task)
            metrics.JOB_RUNS.labels(name, result).inc()
            metrics.JOB_SECONDS.labels(name).observe(time.perf_counter() - started)

    # --- the jobs; each returns its counts, and is callable directly (tests, CLI) ---

    async def status(self) -> Counter[str]:
        counts = await self._per_provider(
            lambda client: polling.poll_statuses(self._pool, client, self._config.current.sync)
        )
        counts.update(
            await self._per_provider(
                lambda client: run_polling.poll_runs(self._pool, client, self._config.current.sync)
            )
        )
        counts["too_old"] += await polling.stop_polling_old(self._pool, self._config.current.sync)
        return counts

    async def refills(self) -> Counter[str]:
        return await self._per_provider(
            lambda client: polling.poll_refills(self._pool, client, self._config.current.sync)
        )

    async def balances(self) -> Counter[str]:
        async with self._exclusive(locks.BALANCE_JOB) as mine:
            if not mine:
                return Counter(skipped=1)

            async def one(client: ProviderClient) -> Counter[str]:
                check = await balances.check_balance(self._pool, client, self._config.current)
                mismatch = int(check.mismatch is not None)
                return Counter(checked=1, low=int(check.low), currency_mismatch=mismatch)

            return await self._per_provider(one)

    async def catalog(self) -> Counter[str]:
        async with self._exclusive(locks.CATALOG_SYNC_JOB) as mine:
            if not mine:
                return Counter(skipped=1)
            try:
                report = await catalog_sync.sync(
                    self._pool, self._config.current, self._upstreams, refuse_to_empty=True
                )
            except errors.CatalogWouldEmpty as exc:
                # An upstream glitch (`services` answering []) must not take everything off
                # sale; an operator who means it runs `reseller services sync --force`.
                log.error("catalog_sync_refused", error=exc.message)
                return Counter(refused=1)
            return Counter(
                offered=sum(report.offered.values()),
                failed=len(report.failed),
                enabled=report.enabled,
                disabled=len(report.disabled),
            )

    async def tiers(self) -> Counter[str]:
        """What each customer paid in the last 30 days, which its spend tier follows."""
        async with self._exclusive(locks.TIERS_JOB) as mine:
            if not mine:
                return Counter(skipped=1)
            return Counter(changed=await customers.evaluate_spend(self._pool))

    async def routing(self) -> Counter[str]:
        """Provider quality over the window, and every service's route from it."""
        async with self._exclusive(locks.ROUTING_JOB) as mine:
            if not mine:
                return Counter(skipped=1)
            return await routing_plan.run(self._pool, self._config.current)

    async def alerts(self) -> Counter[str]:
        """Tell the destinations what changed; sent from one process at a time, never from a
        request: a destination that is slow or down delays nothing but this job."""
        config = self._config.current
        if not config.alerts.destinations:
            return Counter()
        async with self._exclusive(locks.ALERTS_JOB) as mine:
            if not mine:
                return Counter(skipped=1)
            return await self._notifier.check(self._pool, config)

    async def _per_provider(
        self, work: Callable[[ProviderClient], Awaitable[Counter[str]]]
    ) -> Counter[str]:
        """Run for every provider at once; a failing provider is counted, not fatal."""
        clients = list(self._upstreams)
        results = await asyncio.gather(*(work(c) for c in clients), return_exceptions=True)
        total: Counter[str] = Counter()
        for client, result in zip(clients, results, strict=True):
            if isinstance(result, BaseException):
                total["provider_failures"] += 1
                if not db.is_unavailable(result):  # an outage is logged by jobs.outage
                    log.warning("job_provider_failed", provider=client.name, error=str(result))
            else:
                total.update(result)
        return total

    @asynccontextmanager
    async def _exclusive(self, key: int) -> AsyncIterator[bool]:
        """Whether this process holds the job's lock (held on one connection for the run)."""
        async with self._pool.session() as conn:
            mine = await conn.fetchval(Q.try_job_lock, key)
            try:
                yield mine
            finally:
                if mine:
                    try:
                        await conn.fetchval(Q.release_job_lock, key)
                    except BaseException:
                        conn.terminate()  # a lock must never go back to the pool
                        raise


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
