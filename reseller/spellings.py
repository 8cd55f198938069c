"""The words panels use for an order's and a refill's status, and the API status each means.

Below everything that reads them (`upstream.parse` for answers, `config` for a provider's own
`status_aliases`): one table, looked up one way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

STATUSES = {
    "pending": "Pending",
    "processing": "Processing",
    "in progress": "In progress",
    "inprogress": "In progress",
    "active": "In progress",  # subscriptions
    "paused": "In progress",
    "expired": "Completed",
    "completed": "Completed",
    "complete": "Completed",
    "partial": "Partial",
    "canceled": "Canceled",
    "cancelled": "Canceled",
    "refunded": "Canceled",
}
REFILL_STATUSES = {
    "pending": "Pending",
    "in progress": "In progress",
    "inprogress": "In progress",
    "processing": "In progress",
    "completed": "Completed",
    "complete": "Completed",
    "rejected": "Rejected",
    "canceled": "Rejected",
    "cancelled": "Rejected",
    "error": "Rejected",
}


def status_name(value: Any, aliases: Mapping[str, str] | None = None) -> str | None:
    """The API status a spelling means: ours, or the provider's own (`status_aliases`, keyed
    by `alias_key`)."""
    key = _key(value)
    return STATUSES.get(key) or (aliases or {}).get(key)


def alias_key(spelling: str) -> str:
    """How a spelling is looked up: case, `_`, `-` and surrounding spaces do not count."""
    return _key(spelling)


def refill_status_name(value: Any) -> str | None:
    return REFILL_STATUSES.get(_key(value))


def _key(value: Any) -> str:
    return str(value).strip().lower().replace("_", " ").replace("-", " ") if value else ""
