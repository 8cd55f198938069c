"""`reseller report --losses` and `--drift`: what providers kept beyond their rates, and their
balances against our expected spend (`reports.provider_losses`, `reports.balance_drift`)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from reseller import db, money
from reseller.cli import common, output
from reseller.config import Config
from reseller.reports import balance_drift, provider_losses

LOSS_COLUMNS = (
    "order",
    "provider",
    "kind",
    "status",
    "expected",
    "charged",
    "at_stake",
    "currency",
    "at_stake_base",
)
PROVIDER_COLUMNS = (
    "provider",
    "refunds_owed",
    "refunds_honoured",
    "honoured_percent",
    "unrefunded",
    "overcharged",
    "currency",
)
DRIFT_COLUMNS = (
    "provider",
    "day",
    "opening",
    "closing",
    "drop",
    "expected",
    "drift",
    "currency",
    "rate_unknown",
    "note",
)


def show_losses(args: argparse.Namespace, start: datetime, end: datetime) -> int:
    async def read(
        pool: db.Database, config: Config
    ) -> tuple[list[provider_losses.LossLine], list[provider_losses.ProviderFigures], str]:
        lines = await provider_losses.losses(pool, config, start=start, end=end)
        figures = await provider_losses.figures(pool, config, start=start, end=end)
        return lines, figures, config.api.currency

    lines, figures, base = common.with_database(args, read)
    rows = [_loss_row(line) for line in lines]
    per_provider = [figure_row(f) for f in figures]
    if args.json:
        output.emit_document(
            {
                **_period(start, end),
                "losses": output.records(LOSS_COLUMNS, rows),
                "providers": output.records(PROVIDER_COLUMNS, per_provider),
            }
        )
        return 0
    title = (
        f"{start:%Y-%m-%d} to {end:%Y-%m-%d} (exclusive), orders placed then: what providers"
        f" charged beyond their rate and final status; amounts in the provider's currency,"
        f" at stake base in {base}"
    )
    output.emit(args, LOSS_COLUMNS, rows, title=title)
    if not args.csv:  # a CSV is one table: the orders
        print()
        output.emit(args, PROVIDER_COLUMNS, per_provider, title="Per provider:")
    return 0


def show_drift(args: argparse.Namespace, start: datetime, end: datetime) -> int:
    async def read(pool: db.Database, config: Config) -> list[balance_drift.DriftDay]:
        tolerance = config.sync.loss_tolerance
        return await balance_drift.days(pool, start=start, end=end, tolerance=tolerance)

    rows = [_drift_row(d) for d in common.with_database(args, read)]
    if args.json:
        output.emit_document({**_period(start, end), "days": output.records(DRIFT_COLUMNS, rows)})
        return 0
    title = (
        f"{start:%Y-%m-%d} to {end:%Y-%m-%d} (exclusive), per provider and day (UTC): the"
        " balance's drop against the cost of the orders placed less the refunds owed"
        " (top-ups are not known: a balance that rose is taken as one)"
    )
    output.emit(args, DRIFT_COLUMNS, rows, title=title)
    return 0


def figure_row(f: provider_losses.ProviderFigures) -> Sequence[Any]:
    share = f.honoured_share
    return (
        f.provider,
        f.refunds_owed,
        f.refunds_honoured,
        None if share is None else f"{share * 100:.1f}",
        money.format_amount(f.unrefunded),
        money.format_amount(f.overcharged),
        f.currency,
    )


def _loss_row(line: provider_losses.LossLine) -> Sequence[Any]:
    return (
        line.order_id,
        line.provider,
        line.kind,
        line.status,
        money.format_amount(line.expected),
        money.format_amount(line.charged),
        money.format_amount(line.at_stake),
        line.currency,
        _amount(line.at_stake_base),
    )


def _drift_row(d: balance_drift.DriftDay) -> Sequence[Any]:
    return (
        d.provider,
        d.day.isoformat(),
        money.format_amount(d.opening),
        money.format_amount(d.closing),
        money.format_amount(d.drop),
        money.format_amount(d.expected),
        _amount(d.drift),
        d.currency,
        d.unknown,
        d.note,
    )


def _amount(value: Decimal | None) -> str | None:
    return None if value is None else money.format_amount(value)


def _period(start: datetime, end: datetime) -> dict[str, str]:
    return {"from": start.date().isoformat(), "to": end.date().isoformat()}
