"""The whole story of one order, read in one snapshot (`reseller orders show`, and the
console's order page).

Its fields, then, oldest first, everything the database keeps a time of: its creation, its
ledger entries (the charge, refunds with their reasons), its refills and cancel requests (each
with where it stands now), operator actions on it and its refills (the audit trail) and its
settlement. Dispatch attempts and poll errors are kept as counters beside the last error only,
so they are shown as fields; no history is made up for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

from reseller import audit as trail
from reseller import db, money
from reseller.db import Q

FOREVER = datetime.max.replace(tzinfo=UTC)  # sent to PostgreSQL as 'infinity'
TIME = "%Y-%m-%d %H:%M:%S"  # as `reseller audit` shows times (UTC)


@dataclass(frozen=True, slots=True)
class Event:
    at: datetime
    event: str  # created, charge, refund, refill, cancel, run, audit, settled
    detail: str


@dataclass(frozen=True, slots=True)
class Facts:
    order: db.Record
    ledger: list[db.Record]
    refills: list[db.Record]
    cancels: list[db.Record]
    audit: list[db.Record]
    runs: list[db.Record]  # an emulated drip-feed's runs (none for any other order)


async def gather(pool: db.Database, order_id: int) -> Facts | None:
    """Everything stored about the order, as of one moment (an order moving meanwhile is shown
    before or after the move, never half of it). None: no such order."""
    async with pool.transaction() as tx:
        await tx.execute(Q.read_only_snapshot)
        order = await tx.fetchrow(Q.show_order, order_id)
        if order is None:
            return None
        refills = await tx.fetch(Q.order_refills, order_id, order["customer_id"])
        audit: list[db.Record] = []
        for subject in (f"order {order_id}", *(f"refill {r['id']}" for r in refills)):
            audit += await trail.entries(tx, order["created_at"], FOREVER, subject=subject)
        return Facts(
            order,
            await tx.fetch(Q.order_ledger, order_id),
            refills,
            await tx.fetch(Q.order_cancels, order_id),
            audit,
            await tx.fetch(Q.order_runs_story, order_id),
        )


def order_fields(order: db.Record) -> dict[str, Any]:
    """The order row as shown: money formatted, times to the second, None where unset."""
    return {
        "id": order["id"],
        "customer": order["customer"],
        "service_id": order["service_id"],
        "service_name": order["service_name"],
        "link": order["link"],
        "quantity": order["quantity"],
        "runs": order["runs"],
        "run_interval": order["run_interval"],
        "fields": order["fields"],
        "status": order["status"],
        "remains": order["remains"],
        "start_count": order["start_count"],
        "charge": _money(order["charge"]),
        "refunded": _money(order["refunded"]),
        "currency": order["currency"],
        "currency_rate": str(order["currency_rate"]),
        "cost": _money(order["cost"]),  # in the provider's currency
        "provider": order["provider"],
        "upstream_service": order["upstream_service"],
        "upstream_order_id": order["upstream_order_id"],
        "dispatch_state": order["dispatch_state"],
        "dispatch_attempts": order["dispatch_attempts"],
        "dispatch_candidate": order["dispatch_candidate"],
        "dispatch_error": order["dispatch_error"],  # the last one; cleared once placed
        # Queued behind an active order on its link: since when, and which (None: not ours).
        "waiting_since": _time(order["waiting_since"]),
        "waiting_for": order["waiting_for"],
        "poll_errors": order["poll_errors"],  # unusable answers since the last usable one
        "flagged": order["poll_stopped"],  # why it is no longer polled
        "frozen": order["frozen"],  # why its last answer was outside the strict table
        "frozen_answer": order["frozen_answer"],  # that answer, as the provider sent it
        # The upstream service's rate when it was claimed, in the provider's currency.
        "upstream_rate": None if order["upstream_rate"] is None else str(order["upstream_rate"]),
        "last_polled_at": _time(order["last_polled_at"]),
        "created_at": _time(order["created_at"]),
        "updated_at": _time(order["updated_at"]),
        "settled_at": _time(order["settled_at"]),
    }


def events(facts: Facts) -> list[Event]:
    """Oldest first. Events of one transaction share its time (an order and its charge; a
    refund, the settlement and the operator's entry): they keep the order below."""
    order, currency = facts.order, facts.order["currency"]
    story = [
        Event(
            order["created_at"],
            "created",
            f"{order['customer']} ordered {order['quantity']} of service {order['service_id']}",
        )
    ]
    story += [Event(e["created_at"], e["kind"], _ledger(e, currency)) for e in facts.ledger]
    if order["settled_at"] is not None:
        story.append(Event(order["settled_at"], "settled", f"final status {order['status']}"))
    story += [Event(r["created_at"], "refill", _refill(r)) for r in facts.refills]
    story += [Event(c["created_at"], "cancel", _cancel(c)) for c in facts.cancels]
    story += [Event(r["due_at"], "run", _run(r, order["runs"])) for r in facts.runs]
    story += [Event(a["created_at"], "audit", _audit(a)) for a in facts.audit]
    return sorted(story, key=lambda e: e.at)


def _ledger(entry: db.Record, currency: str) -> str:
    amount = f"{money.format_amount(entry['amount'])} {currency}"
    return f"{amount}: {entry['reason']}" if entry["reason"] else amount


def _refill(refill: db.Record) -> str:
    now = f"now {refill['status']}, {refill['dispatch_state']}"
    if refill["upstream_refill_id"]:
        now += f" as upstream refill {refill['upstream_refill_id']}"
    return f"refill {refill['id']} requested; {now}{_attempts(refill)}"


def _cancel(cancel: db.Record) -> str:
    now = f"now {cancel['dispatch_state']}"
    if cancel["upstream_answer"]:
        now += f", answered: {cancel['upstream_answer']}"
    return f"cancel {cancel['id']} requested; {now}{_attempts(cancel)}"


def _run(run: db.Record, runs: int) -> str:
    """At its due time (a run not sent yet is due later)."""
    now = f"now {run['status']}, {run['dispatch_state']}"
    if run["upstream_order_id"]:
        now += f" as upstream order {run['upstream_order_id']} at {run['provider']}"
    if run["final"] and run["remains"]:
        now += f", {run['remains']} undelivered"
    return f"run {run['run']} of {runs}: {run['quantity']} due; {now}{_attempts(run)}"


def _attempts(request: db.Record) -> str:
    count = request["dispatch_attempts"]
    text = f" ({count} {'attempt' if count == 1 else 'attempts'}"
    if request.get("dispatch_error"):
        text += f", last error: {request['dispatch_error']}"
    return text + ")"


def _audit(entry: db.Record) -> str:
    text = f"{entry['action']} by {entry['actor']}"
    if not entry["subject"].startswith("order "):
        text += f" on {entry['subject']}"
    if entry["reason"]:
        text += f": {entry['reason']}"
    if entry["detail"]:
        text += f" {orjson.dumps(entry['detail']).decode()}"
    return text


def _money(amount: Decimal | None) -> str | None:
    return None if amount is None else money.format_amount(amount)


def _time(at: datetime | None) -> str | None:
    return None if at is None else at.strftime(TIME)
