"""What one destination must be told now, given what it was told before. Pure: the conditions
and the record (`Told`, a row of `alert_state`) in, the messages and the new record out.

- a condition it was not told of: `firing`;
- one that gained items (a new uncertain order): `updated`, naming the new ones; items that
  went away are forgotten quietly, so one coming back is news again;
- one unchanged for `remind_after` since its last message: `reminder`;
- one it was told of that is gone: `resolved`;
- an event (a database restart): `event` when it differs from the last one told; the first one
  a destination sees is only recorded (it happened before anyone was watching).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from reseller.alerts.conditions import Condition


class State(StrEnum):
    FIRING = "firing"
    UPDATED = "updated"
    REMINDER = "reminder"
    RESOLVED = "resolved"
    EVENT = "event"


@dataclass(frozen=True, slots=True)
class Told:
    """What a destination was last told about one condition."""

    kind: str
    subject: str
    items: frozenset[str]
    text: str
    since: datetime
    notified_at: datetime

    @property
    def key(self) -> tuple[str, str]:
        return self.kind, self.subject


@dataclass(frozen=True, slots=True)
class Alert:
    """One message, as every destination renders it."""

    kind: str
    subject: str
    state: State
    text: str
    since: datetime
    at: datetime
    items: tuple[str, ...] = ()
    new_items: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Step:
    key: tuple[str, str]
    alert: Alert | None  # None: only the record changes
    told: Told | None  # the record once the alert is delivered; None: forgotten


def plan(
    conditions: Sequence[Condition],
    told: Mapping[tuple[str, str], Told],
    *,
    now: datetime,
    remind_after: timedelta,
) -> list[Step]:
    steps = [
        step
        for c in conditions
        if (step := _step(c, told.get((c.kind, c.subject)), now, remind_after)) is not None
    ]
    current = {(c.kind, c.subject) for c in conditions}
    for key, before in told.items():
        if key not in current:
            alert = Alert(
                before.kind, before.subject, State.RESOLVED, before.text, before.since, now
            )
            steps.append(Step(key, alert, None))
    return steps


def _step(c: Condition, before: Told | None, now: datetime, remind_after: timedelta) -> Step | None:
    key = (c.kind, c.subject)
    # An event's moment is its own; a state keeps the start it was first told with.
    since = before.since if before is not None and not c.event else (c.since or now)
    told = Told(c.kind, c.subject, c.items, c.text, since, now)
    new = c.items - before.items if before is not None else c.items

    def alert(state: State, new_items: frozenset[str] = frozenset()) -> Step:
        message = Alert(
            c.kind, c.subject, state, c.text, since, now, _sorted(c.items), _sorted(new_items)
        )
        return Step(key, message, told)

    if before is None:
        return Step(key, None, told) if c.event else alert(State.FIRING)
    if c.event:
        return alert(State.EVENT) if new else None
    if new:
        return alert(State.UPDATED, new)
    if now - before.notified_at >= remind_after:
        return alert(State.REMINDER)
    if c.items != before.items:
        return Step(key, None, replace(before, items=c.items))
    return None


def _sorted(items: frozenset[str]) -> tuple[str, ...]:
    return tuple(sorted(items, key=lambda item: (len(item), item)))  # IDs in numeric order
