"""Days as operators type them, in CLI options and console filters: YYYY-MM-DD, meaning that
day's first instant in UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_midnight(text: str) -> datetime:
    """ValueError when `text` is not a YYYY-MM-DD day."""
    return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
