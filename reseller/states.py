"""The words an order, a refill and a request are in: one spelling for the code.

The SQL keeps its own literals (CHECK constraints, partial indexes, queries); tests hold these
enums against the live database's CHECK constraints so the two cannot drift apart.
"""

from __future__ import annotations

from enum import StrEnum


class OrderStatus(StrEnum):
    """An order's status as API v2 answers it (`orders.status`)."""

    PENDING = "Pending"
    PROCESSING = "Processing"
    IN_PROGRESS = "In progress"
    COMPLETED = "Completed"
    PARTIAL = "Partial"
    CANCELED = "Canceled"


class RefillStatus(StrEnum):
    """A refill's status as API v2 answers it (`refills.status`)."""

    PENDING = "Pending"
    IN_PROGRESS = "In progress"
    COMPLETED = "Completed"
    REJECTED = "Rejected"


class DispatchState(StrEnum):
    """Where forwarding an order, a refill or a cancel request upstream stands
    (`dispatch_state` of orders, refills and cancel_requests)."""

    QUEUED = "queued"  # not sent yet
    SENDING = "sending"  # a call is in flight
    PLACED = "placed"  # the provider has it
    UNCERTAIN = "uncertain"  # a sent call's outcome is unknown: never re-sent automatically
    REFUSED = "refused"  # the provider said no (an order's charge went back)


Status = OrderStatus  # for modules that also use upstream.parse.StatusAnswer (a parsed answer)
