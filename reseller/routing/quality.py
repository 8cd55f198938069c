"""Provider quality: what each upstream service delivered on our own orders over a window.

The job (`refresh`) recomputes the stored counts from the orders created in the window, in one
statement; everything else (the routes, the CLI, the metrics) reads what it stored, never the
orders. The rates are derived here from the counts, so they are never out of step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from reseller import db
from reseller.db import Q


@dataclass(frozen=True, slots=True)
class Quality:
    provider: str
    upstream_service: str
    sent: int
    refused: int
    uncertain: int
    settled: int
    completed: int
    partial: int
    canceled: int
    ordered_units: int
    delivered_units: int
    cost: Decimal
    start_p50: Decimal | None  # seconds from our order to its first start seen
    start_p90: Decimal | None
    finish_p50: Decimal | None  # seconds from our order to its settlement (not Canceled)
    finish_p90: Decimal | None
    refills: int
    refills_accepted: int
    refills_completed: int
    refills_final: int

    @property
    def completion_rate(self) -> Decimal | None:
        return _share(self.completed, self.settled)

    @property
    def partial_rate(self) -> Decimal | None:
        return _share(self.partial, self.settled)

    @property
    def canceled_rate(self) -> Decimal | None:
        return _share(self.canceled, self.settled)

    @property
    def delivered_share(self) -> Decimal | None:
        """Σ delivered ÷ Σ ordered, over the settled orders."""
        return _share(self.delivered_units, self.ordered_units)

    @property
    def refusal_rate(self) -> Decimal | None:
        return _share(self.refused, self.sent)

    @property
    def uncertain_rate(self) -> Decimal | None:
        return _share(self.uncertain, self.sent)

    @property
    def refill_acceptance(self) -> Decimal | None:
        return _share(self.refills_accepted, self.refills)

    @property
    def refill_completion(self) -> Decimal | None:
        return _share(self.refills_completed, self.refills_final)

    @property
    def cost_per_delivered(self) -> Decimal | None:
        """What 1000 delivered units cost us (cost ÷ delivered share), the provider's
        currency."""
        if not self.delivered_units:
            return None
        return self.cost * 1000 / self.delivered_units


def _share(part: int, whole: int) -> Decimal | None:
    return Decimal(part) / Decimal(whole) if whole else None


def from_row(row: db.Record) -> Quality:
    return Quality(
        provider=row["provider"],
        upstream_service=row["upstream_service"],
        sent=row["sent"],
        refused=row["refused"],
        uncertain=row["uncertain"],
        settled=row["settled"],
        completed=row["completed"],
        partial=row["partial"],
        canceled=row["canceled"],
        ordered_units=row["ordered_units"],
        delivered_units=row["delivered_units"],
        cost=row["cost"],
        start_p50=_seconds(row["start_p50_seconds"]),
        start_p90=_seconds(row["start_p90_seconds"]),
        finish_p50=_seconds(row["finish_p50_seconds"]),
        finish_p90=_seconds(row["finish_p90_seconds"]),
        refills=row["refills"],
        refills_accepted=row["refills_accepted"],
        refills_completed=row["refills_completed"],
        refills_final=row["refills_final"],
    )


def _seconds(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.1"))


async def refresh(pool: db.Database, window_days: int) -> None:
    """Recompute the stored figures from the orders created in the last `window_days`."""
    since = datetime.now(UTC) - timedelta(days=window_days)
    async with pool.transaction() as conn:
        await conn.execute(Q.no_statement_timeout)  # a job's scan of the window, not a request
        await conn.execute(Q.refresh_quality, since)


async def figures(pool: db.Database, service_id: int | None = None) -> list[Quality]:
    """The stored figures: all, or those of one local service's candidates."""
    return [from_row(r) for r in await pool.fetch(Q.quality_figures, service_id)]
