"""Where each configured provider stands, from what the database keeps: its balance as the
balances job last recorded it (low, paused), whether that check was answered, and what went
wrong with its orders lately. Asking the provider now is `upstream.ping`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from reseller import db
from reseller.config import Config
from reseller.db import Q

RECENT = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class ProviderStatus:
    name: str
    balance: Decimal | None  # None: never checked
    currency: str | None
    low: bool
    paused: bool
    checked_at: datetime | None
    failing_since: datetime | None  # its balance checks have failed since then
    error: str | None  # why the last one failed
    refused: int  # in the last RECENT: sends refused or never got through
    uncertain: int  # orders it took in the last RECENT that went uncertain
    poll_stopped: int  # … whose polling was given up


async def statuses(pool: db.Database, config: Config, *, now: datetime) -> list[ProviderStatus]:
    """Each provider of `config`, in its order."""
    states = {r["provider"]: r for r in await pool.fetch(Q.provider_states)}
    failures = {r["provider"]: r for r in await pool.fetch(Q.provider_failures, now - RECENT)}
    found = []
    for provider in config.providers:
        state = states.get(provider.name)
        failed = failures.get(provider.name)
        found.append(
            ProviderStatus(
                name=provider.name,
                balance=_field(state, "balance"),
                currency=_field(state, "currency"),
                low=bool(_field(state, "low")),
                paused=bool(_field(state, "paused")),
                checked_at=_field(state, "checked_at"),
                failing_since=_field(state, "failing_since"),
                error=_field(state, "error"),
                refused=_field(failed, "refused") or 0,
                uncertain=_field(failed, "uncertain") or 0,
                poll_stopped=_field(failed, "poll_stopped") or 0,
            )
        )
    return found


def _field(row: db.Record | None, name: str) -> Any:
    """A column of a row that may not exist (a provider never checked, or without failures)."""
    return None if row is None else row[name]
