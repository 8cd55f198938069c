"""The audit trail: every operator action, who did it and why.

Recorded in the same transaction as the action itself, so an action without its entry (or an
entry without its action) cannot exist. Money moves are in the ledger as well; the trail says
who moved them.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reseller import db
from reseller.db import Q


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did an operator action (`--actor`, by default the OS user), and why (their words)."""

    name: str
    reason: str | None = None


def os_user() -> str:
    """The OS user running the command; its uid where the account has no name (a container)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


async def record(
    conn: db.Executor,
    actor: Actor,
    action: str,
    subject: str,
    detail: Mapping[str, Any] | None = None,
) -> None:
    await conn.execute(Q.insert_audit, actor.name, action, subject, actor.reason, detail or {})


async def entries(
    conn: db.Executor,
    since: datetime,
    until: datetime,
    *,
    subject: str | None = None,
    actor: str | None = None,
    newest_first: bool = False,
    before: int | None = None,
    limit: int | None = None,
) -> list[db.Record]:
    """Oldest first (or `newest_first`), `since` included, `until` excluded; `before`: only
    entries with a smaller id; `limit`: the newest that many (a page of a newest-first
    listing, the next one `before` its last)."""
    rows = await conn.fetch(Q.audit_entries, since, until, subject, actor, before, limit)
    return rows if newest_first else rows[::-1]
