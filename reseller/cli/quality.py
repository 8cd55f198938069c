"""`reseller providers quality`: the figures the routing job stored, per upstream service (it
reads them; the job computes them)."""

from __future__ import annotations

import argparse
from decimal import Decimal

from reseller import money
from reseller.cli import common, output
from reseller.routing import quality

COLUMNS = (
    "provider",
    "upstream_service",
    "settled",
    "completion_rate",
    "delivered_share",
    "partial_rate",
    "canceled_rate",
    "start_p50_s",
    "start_p90_s",
    "finish_p50_s",
    "finish_p90_s",
    "refill_acceptance",
    "refill_completion",
    "refusal_rate",
    "uncertain_rate",
    "cost_per_1000_delivered",
)


def show(args: argparse.Namespace) -> int:
    found = common.with_database(args, lambda pool, _: quality.figures(pool, args.service))
    output.emit(
        args,
        COLUMNS,
        [
            (
                q.provider,
                q.upstream_service,
                q.settled,
                _rate(q.completion_rate),
                _rate(q.delivered_share),
                _rate(q.partial_rate),
                _rate(q.canceled_rate),
                _text(q.start_p50),
                _text(q.start_p90),
                _text(q.finish_p50),
                _text(q.finish_p90),
                _rate(q.refill_acceptance),
                _rate(q.refill_completion),
                _rate(q.refusal_rate),
                _rate(q.uncertain_rate),
                None if q.cost_per_delivered is None else money.format_amount(q.cost_per_delivered),
            )
            for q in found
        ],
    )
    return 0


def _rate(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.3f}"


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
