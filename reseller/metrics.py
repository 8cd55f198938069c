"""Prometheus metrics: counters and histograms kept by this process, and gauges read from the
database at scrape time (so every process reports the same queue depth and balances)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from reseller import db
from reseller.db import Q
from reseller.routing import quality
from reseller.states import DispatchState

REGISTRY = CollectorRegistry()

API_REQUESTS = Counter(
    "reseller_api_requests",
    "API v2 requests (outcome: ok, error, disconnected: the client hung up first, or too_slow: "
    "its body did not arrive within server.body_timeout_seconds)",
    ["action", "outcome"],
    registry=REGISTRY,
)
API_SECONDS = Histogram(
    "reseller_api_request_seconds",
    "API v2 request latency",
    ["action"],
    registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
CONNECTIONS_REFUSED = Counter(
    "reseller_api_connections_refused",
    "API connections answered 503 at once: the process had server.max_connections open",
    registry=REGISTRY,
)
ADD_BATCH_SIZE = Histogram(
    "reseller_add_batch_size",
    "Adds of one customer committed in one transaction (group commit): _count is transactions,"
    " _sum adds",
    registry=REGISTRY,
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
)
UPSTREAM_CALLS = Counter(
    "reseller_upstream_calls",
    "Calls to upstream providers",
    ["provider", "action", "outcome"],
    registry=REGISTRY,
)
UPSTREAM_SECONDS = Histogram(
    "reseller_upstream_call_seconds",
    "Upstream call latency",
    ["provider", "action"],
    registry=REGISTRY,
)
JOB_SECONDS = Histogram(
    "reseller_job_seconds",
    "Scheduled job run time",
    ["job"],
    registry=REGISTRY,
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300),
)
JOB_RUNS = Counter("reseller_job_runs", "Scheduled job runs", ["job", "result"], registry=REGISTRY)
PROVIDER_CURRENCY_MISMATCH = Counter(
    "reseller_provider_currency_mismatch",
    "Balance checks where the provider named another currency than its configured one (its"
    " services are off sale while it does)",
    ["provider"],
    registry=REGISTRY,
)
ALERTS_SENT = Counter(
    "reseller_alerts_sent",
    "Alert messages a destination took (state: firing, updated, reminder, resolved, event)",
    ["destination", "state"],
    registry=REGISTRY,
)
ALERT_DELIVERY_FAILURES = Counter(
    "reseller_alert_delivery_failures",
    "Alert messages a destination did not take after every retry (tried again next check)",
    ["destination"],
    registry=REGISTRY,
)

ORDERS = Gauge(
    "reseller_orders",
    "Orders by status and dispatch state",
    ["status", "dispatch_state"],
    registry=REGISTRY,
)
DISPATCH_QUEUE = Gauge(
    "reseller_dispatch_queue", "Orders waiting to be sent upstream", registry=REGISTRY
)
UNCERTAIN = Gauge(
    "reseller_uncertain_orders", "Orders whose upstream outcome is unknown", registry=REGISTRY
)
FLAGGED = Gauge(
    "reseller_flagged_orders",
    "Orders no longer polled (unusable answers, unknown upstream, too old), money held",
    registry=REGISTRY,
)
WAITING = Gauge(
    "reseller_waiting_orders",
    "Orders held in the queue while their link has an active order upstream",
    registry=REGISTRY,
)
FROZEN = Gauge(
    "reseller_frozen_orders",
    "Orders frozen on an answer outside the strict table (still polled), money held",
    registry=REGISTRY,
)
REFUNDS = Gauge("reseller_refunds", "Refund ledger entries", registry=REGISTRY)
REFUNDED = Gauge("reseller_refunded_amount", "Sum of refunds", registry=REGISTRY)
PROVIDER_BALANCE = Gauge(
    "reseller_provider_balance",
    "Provider balance as last checked",
    ["provider", "currency"],
    registry=REGISTRY,
)
PROVIDER_LOW = Gauge(
    "reseller_provider_balance_low",
    "1 when below its alert threshold",
    ["provider"],
    registry=REGISTRY,
)
PROVIDER_PAUSED = Gauge(
    "reseller_provider_paused",
    "1 when dispatch to it is paused for funds",
    ["provider"],
    registry=REGISTRY,
)

# How providers treated the refunds they owed us and their rates, over the orders placed in
# the last LOSS_DAYS days (orders/provider_check.py); amounts in each provider's currency.
LOSS_DAYS = 30
PROVIDER_REFUNDS_HONOURED = Gauge(
    "reseller_provider_refunds_honoured_ratio",
    f"Share of the refunds a provider owed us (settled Partial/Canceled) that it honoured,"
    f" orders placed in the last {LOSS_DAYS} days",
    ["provider"],
    registry=REGISTRY,
)
PROVIDER_UNREFUNDED = Gauge(
    "reseller_provider_unrefunded_amount",
    f"What a provider kept of the refunds it owed us, its currency, last {LOSS_DAYS} days",
    ["provider"],
    registry=REGISTRY,
)
PROVIDER_OVERCHARGED = Gauge(
    "reseller_provider_overcharged_amount",
    f"What a provider charged above its rate, its currency, last {LOSS_DAYS} days",
    ["provider"],
    registry=REGISTRY,
)

# What each upstream service delivered over the routing window, as the routing job last
# stored it (routing/quality.py); read from that table, never from the orders.
PROVIDER_QUALITY = Gauge(
    "reseller_provider_quality",
    "Provider quality over the routing window: completion_rate, delivered_share, partial_rate,"
    " canceled_rate, refusal_rate, uncertain_rate, finish_p50_seconds",
    ["provider", "upstream_service", "figure"],
    registry=REGISTRY,
)
CANDIDATES_DEMOTED = Gauge(
    "reseller_candidates_demoted",
    "Upstream candidates demoted below the routing floors, over all services",
    registry=REGISTRY,
)
_QUALITY_FIGURES = (
    "completion_rate",
    "delivered_share",
    "partial_rate",
    "canceled_rate",
    "refusal_rate",
    "uncertain_rate",
    "finish_p50",
)


async def render(pool: db.Database) -> bytes:
    """The exposition text, with the database gauges read now."""
    ORDERS.clear()
    queued = uncertain = 0
    for row in await pool.fetch(Q.orders_by_state):
        ORDERS.labels(row["status"], row["dispatch_state"]).set(row["n"])
        queued += row["n"] if row["dispatch_state"] == DispatchState.QUEUED else 0
        uncertain += row["n"] if row["dispatch_state"] == DispatchState.UNCERTAIN else 0
    DISPATCH_QUEUE.set(queued)
    UNCERTAIN.set(uncertain + await pool.fetchval(Q.orders_with_uncertain_runs))
    FLAGGED.set(await pool.fetchval(Q.flagged_orders))
    WAITING.set(await pool.fetchval(Q.waiting_orders))
    FROZEN.set(await pool.fetchval(Q.frozen_orders))
    refunds = await pool.fetchrow(Q.refund_totals)
    REFUNDS.set(refunds["n"])
    REFUNDED.set(float(refunds["total"]))  # an export format, not money handling
    PROVIDER_BALANCE.clear()  # labelled by currency: a provider changing it leaves no stale series
    for row in await pool.fetch(Q.metrics_provider_balances):
        PROVIDER_BALANCE.labels(row["provider"], row["currency"]).set(float(row["balance"]))
        PROVIDER_LOW.labels(row["provider"]).set(int(row["low"]))
        PROVIDER_PAUSED.labels(row["provider"]).set(int(row["paused"]))
    now = datetime.now(UTC)
    for gauge in (PROVIDER_REFUNDS_HONOURED, PROVIDER_UNREFUNDED, PROVIDER_OVERCHARGED):
        gauge.clear()  # a provider with nothing in the window leaves no stale series
    for row in await pool.fetch(Q.provider_loss_figures, now - timedelta(days=LOSS_DAYS), now):
        if row["refunds_owed"]:
            share = row["refunds_honoured"] / row["refunds_owed"]
            PROVIDER_REFUNDS_HONOURED.labels(row["provider"]).set(share)
        PROVIDER_UNREFUNDED.labels(row["provider"]).set(float(row["unrefunded"]))
        PROVIDER_OVERCHARGED.labels(row["provider"]).set(float(row["overcharged"]))
    PROVIDER_QUALITY.clear()  # a service gone from the window leaves no stale series
    for q in await quality.figures(pool):
        for figure in _QUALITY_FIGURES:
            value = getattr(q, figure)
            if value is not None:
                name = f"{figure}_seconds" if figure == "finish_p50" else figure
                PROVIDER_QUALITY.labels(q.provider, q.upstream_service, name).set(float(value))
    CANDIDATES_DEMOTED.set(len(await pool.fetch(Q.alert_demoted_candidates)))
    return generate_latest(REGISTRY)
