"""Providers' balances: recorded, alerted below `balance_alert`, paused below `pause_below`,
and a provider naming another currency than its configured one taken off sale.

`ask` reads and classifies (no writes: `reseller providers balance` shows what it finds);
`check_balance`, the balances job, asks the same way and records the outcome."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from reseller import db, errors, logs, metrics
from reseller.catalog import pricing
from reseller.catalog import sync as catalog_sync
from reseller.config import Config, ProviderConfig
from reseller.db import Q
from reseller.upstream import ProviderClient

log = logs.get_logger()
_CURRENCY_CHARS = 16  # a currency a panel names is a short code; more is a broken answer
_ERROR_CHARS = 200  # of why a check failed, kept: an alert quotes it


@dataclass(frozen=True, slots=True)
class BalanceCheck:
    balance: Decimal
    currency: str  # as the provider named it; its configured one when it named none
    low: bool  # below `balance_alert`
    paused: bool  # below `pause_below`: dispatch keeps its orders queued
    mismatch: str | None  # why its services are off sale: it names another currency


async def ask(client: ProviderClient) -> BalanceCheck:
    """The provider's balance now, classified against its config; nothing is written."""
    balance, named = await client.balance()
    return classify(client.provider, balance, named)


def classify(provider: ProviderConfig, balance: Decimal, named: str) -> BalanceCheck:
    # Kept as named (upper case), not cut to three letters: "USDT" must not pass for "USD".
    currency = named.strip().upper()[:_CURRENCY_CHARS] or provider.currency
    return BalanceCheck(
        balance=balance,
        currency=currency,
        low=provider.balance_alert is not None and balance < provider.balance_alert,
        paused=provider.pause_below is not None and balance < provider.pause_below,
        mismatch=pricing.currency_mismatch(provider.name, provider.currency, currency),
    )


async def check_balance(pool: db.Database, client: ProviderClient, config: Config) -> BalanceCheck:
    """`ask`, then record the balance and the low and paused flags (a paused provider's orders
    wait in the queue). A currency other than the configured one takes its services off sale
    (its costs would be converted at the wrong rate): the catalog is rebuilt from `config`
    whenever that changes. Whether it answered at all is recorded too (`provider_health`):
    alerts call a provider down when its checks have failed for long enough."""
    try:
        check = await ask(client)
    except errors.UpstreamError as exc:
        answered = isinstance(exc, errors.UpstreamRefused)  # a refusal is an answer
        error = None if answered else str(exc)[:_ERROR_CHARS]
        await pool.execute(Q.record_provider_health, client.name, error)
        raise
    await pool.execute(Q.record_provider_health, client.name, None)
    provider: ProviderConfig = client.provider
    before = await pool.fetchval(Q.provider_currency, client.name)
    await pool.execute(
        Q.record_provider_balance,
        client.name,
        check.balance,
        check.currency,
        check.low,
        check.paused,
    )
    if check.low or check.paused:
        log.warning(
            "provider_balance_low",
            provider=client.name,
            balance=str(check.balance),
            alert_below=str(provider.balance_alert),
            paused=check.paused,
        )
    if check.mismatch is not None:
        metrics.PROVIDER_CURRENCY_MISMATCH.labels(client.name).inc()
        log.warning(
            "provider_currency_mismatch",
            provider=client.name,
            reported=check.currency,
            configured=provider.currency,
            reason=check.mismatch,
        )
    if check.mismatch != pricing.currency_mismatch(client.name, provider.currency, before):
        await catalog_sync.rebuild(pool, config)  # off sale (or back) now, not at the next sync
    return check
