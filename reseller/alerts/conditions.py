"""What is wrong now, read from the database: the same state the metrics gauges read, so every
process computes the same conditions and a restart computes them again. Nothing is remembered
here; what was already said is `alert_state`'s business."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from reseller import db, money
from reseller.catalog import sync as catalog_sync
from reseller.config import Config
from reseller.db import Q
from reseller.reports import provider_losses

LISTED = 10  # items named in a message; the rest are counted


@dataclass(frozen=True, slots=True)
class Condition:
    kind: str  # provider_balance_low, provider_paused, provider_down, orders_uncertain, ...
    subject: str  # the provider; "" for the installation as a whole
    text: str  # for a human: what is wrong, with the numbers of the moment
    # What it is about (order or service IDs): one that was not there before is news.
    items: frozenset[str] = frozenset()
    since: datetime | None = None  # when it started, when the database knows
    # Something that happened (a restart) rather than a state: told once, never resolved.
    event: bool = False


async def current(pool: db.Database, config: Config) -> list[Condition]:
    providers = [p.name for p in config.providers]
    minutes = config.alerts.provider_down_minutes
    return [
        *_balances(config, await pool.fetch(Q.alert_provider_balances, providers)),
        *_down(minutes, await pool.fetch(Q.alert_providers_down, providers, minutes)),
        *_orders(
            await pool.fetch(Q.alert_uncertain_orders), await pool.fetch(Q.alert_flagged_orders)
        ),
        *_frozen(await pool.fetch(Q.alert_frozen_orders)),
        *_services(
            await pool.fetch(Q.alert_services_off_sale, list(catalog_sync.EXPECTED_OFF_SALE))
        ),
        *_demoted(await pool.fetch(Q.alert_demoted_candidates)),
        _restart(await pool.fetchval(Q.database_started)),
        *await _losses(pool, config, providers),
    ]


def _balances(config: Config, rows: Sequence[db.Record]) -> Iterable[Condition]:
    settings = {p.name: p for p in config.providers}
    for row in rows:
        name, provider = row["provider"], settings[row["provider"]]
        balance = f"balance {row['balance']} {row['currency']}"
        if row["paused"]:
            text = (
                f"Provider {name} is paused: {balance} is below pause_below "
                f"{provider.pause_below}; new orders for it wait in the queue"
            )
            yield Condition("provider_paused", name, text)
        if row["low"]:
            text = f"Provider {name}: {balance} is below balance_alert {provider.balance_alert}"
            yield Condition("provider_balance_low", name, text)


async def _losses(pool: db.Database, config: Config, providers: list[str]) -> list[Condition]:
    """Providers that kept more than `alerts.provider_losses_above` (api.currency) beyond their
    rates over the last `provider_losses_hours` (orders/provider_check.py)."""
    above, hours = config.alerts.provider_losses_above, config.alerts.provider_losses_hours
    if above is None:
        return []
    found = []
    for row in await pool.fetch(Q.alert_provider_losses, providers, hours):
        name = row["provider"]
        currency = provider_losses.provider_currency(config, name)
        total = row["unrefunded"] + row["overcharged"]
        base = provider_losses.in_base(config, total, currency)
        if base is None or base <= above:
            continue
        ids = [str(i) for i in row["orders"]]
        text = (
            f"Provider {name} kept {money.format_amount(total)} {currency} beyond its rates in"
            f" {hours} h (unrefunded {money.format_amount(row['unrefunded'])}, overcharged"
            f" {money.format_amount(row['overcharged'])}), above provider_losses_above {above}"
            f" {config.api.currency}: {_listed(f'#{i}' for i in ids)}"
        )
        found.append(Condition("provider_losses", name, text, frozenset(ids)))
    return found


def _down(minutes: int, rows: Sequence[db.Record]) -> Iterable[Condition]:
    for row in rows:
        name, error = row["provider"], row["error"] or "no answer"
        text = f"Provider {name} has failed every balance check for over {minutes} min: {error}"
        yield Condition("provider_down", name, text, since=row["failing_since"])


def _orders(uncertain: Sequence[db.Record], flagged: Sequence[db.Record]) -> Iterable[Condition]:
    if uncertain:
        ids = [str(r["id"]) for r in uncertain]
        text = (
            f"{_count(len(ids), 'order')} uncertain (sent, outcome unknown; money held until "
            f"`reseller orders resolve`): {_listed(f'#{i}' for i in ids)}"
        )
        yield Condition("orders_uncertain", "", text, frozenset(ids))
    if flagged:
        ids = [str(r["id"]) for r in flagged]
        named = (f"#{r['id']} ({r['poll_stopped']})" for r in flagged)
        text = f"{_count(len(ids), 'order')} flagged, no longer polled (money held): "
        yield Condition("orders_flagged", "", text + _listed(named), frozenset(ids))


def _frozen(rows: Sequence[db.Record]) -> Iterable[Condition]:
    if rows:
        ids = [str(r["id"]) for r in rows]
        named = (f"#{r['id']} ({r['frozen']})" for r in rows)
        text = (
            f"{_count(len(ids), 'order')} frozen on an answer outside the strict table (money"
            f" held, still polled; `reseller orders resolve --accept-status`): {_listed(named)}"
        )
        yield Condition("orders_frozen", "", text, frozenset(ids))


def _services(rows: Sequence[db.Record]) -> Iterable[Condition]:
    if rows:
        ids = [str(r["id"]) for r in rows]
        named = (f"#{r['id']} {r['name']} ({r['disabled_reason']})" for r in rows)
        text = f"{_count(len(ids), 'service')} off sale: {_listed(named)}"
        yield Condition("services_off_sale", "", text, frozenset(ids))


def _demoted(rows: Sequence[db.Record]) -> Iterable[Condition]:
    """Candidates below the routing floors (routing/choose.py): tried last until they recover."""
    if rows:
        items = [f"{r['service_id']}/{r['provider']}:{r['upstream_service']}" for r in rows]
        text = (
            f"{_count(len(items), 'upstream candidate')} demoted below the routing floors (tried"
            f" last; `reseller providers quality`): {_listed(items)}"
        )
        yield Condition("candidates_demoted", "", text, frozenset(items))


def _restart(started: datetime) -> Condition:
    text = f"PostgreSQL restarted: up since {when(started)}"
    moment = frozenset([started.isoformat()])
    return Condition("database_restarted", "", text, moment, since=started, event=True)


def when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _listed(names: Iterable[str]) -> str:
    names = list(names)
    shown = ", ".join(names[:LISTED])
    return shown if len(names) <= LISTED else f"{shown} and {len(names) - LISTED} more"
