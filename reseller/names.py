"""What a name typed by a person may be (a customer's, an operator's, an actor's): it is shown
in tables, URLs and the audit trail, so it is short, printable and not blank."""

from __future__ import annotations

MAX_LENGTH = 100


def parse(text: str) -> str:
    """The name without surrounding spaces; ValueError saying why it is not one."""
    value = text.strip()
    if not value:
        raise ValueError("must not be empty")
    if len(value) > MAX_LENGTH or not value.isprintable():
        raise ValueError(f"use up to {MAX_LENGTH} printable characters")
    return value
