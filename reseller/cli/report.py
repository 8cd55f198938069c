"""`reseller report`: revenue, cost, margin and refunds over a period."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from reseller import errors, money
from reseller.cli import common, losses, output
from reseller.reports import revenue

# One column list for the table, CSV and the JSON lines (their keys as before output.py).
# Money columns named *_base, cost and margin are in the base currency (`api.currency`).
COLUMNS = (
    "key",
    "currency",
    "orders",
    "revenue",
    "refunds",
    "revenue_base",
    "refunds_base",
    "discount",
    "discount_base",
    "cost",
    "margin",
    "margin_percent",
    "cost_unknown",
)


def register(commands: Any) -> None:
    rep = commands.add_parser("report", help="revenue, cost, margin and refunds")
    rep.add_argument(
        "--from", dest="start", type=common.date, help="YYYY-MM-DD (default: 30 days ago)"
    )
    rep.add_argument(
        "--to", dest="end", type=common.date, help="YYYY-MM-DD, exclusive (default: tomorrow)"
    )
    rep.add_argument("--by", choices=revenue.GROUPINGS, default="provider")
    other = rep.add_mutually_exclusive_group()
    other.add_argument(
        "--losses",
        action="store_true",
        help="instead: orders whose provider charged beyond its rate (unrefunded, overcharged)",
    )
    other.add_argument(
        "--drift",
        action="store_true",
        help="instead: provider balances per day against our expected spend",
    )
    # output.add_format_options would promise a JSON array; report's JSON has always been one
    # object (its period and grouping beside the lines), and programs read it that way.
    fmt = rep.add_mutually_exclusive_group()
    fmt.add_argument("--csv", action="store_true", help="CSV with a header row")
    fmt.add_argument(
        "--json", action="store_true", help="a JSON object: from, to, by and the lines"
    )
    rep.set_defaults(command=_report)


def _report(args: argparse.Namespace) -> int:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = args.start or today - timedelta(days=30)
    end = args.end or today + timedelta(days=1)
    if end <= start:
        raise errors.ResellerError("--to must be after --from")
    if args.losses:
        return losses.show_losses(args, start, end)
    if args.drift:
        return losses.show_drift(args, start, end)
    result = common.with_database(
        args, lambda pool, config: revenue.build(pool, config, start=start, end=end, by=args.by)
    )
    rows = [_row(line) for line in [*result.lines, result.total]]
    if args.json:
        period = {"from": start.date().isoformat(), "to": end.date().isoformat(), "by": args.by}
        output.emit_document({**period, "lines": output.records(COLUMNS, rows)})
        return 0
    base = result.total.currency
    title = (
        f"{start:%Y-%m-%d} to {end:%Y-%m-%d} (exclusive), by {args.by};"
        f" revenue base, refunds base, discount base, cost and margin in {base}"
    )
    output.emit(args, COLUMNS, rows, title=title)
    return 0


def _row(line: revenue.Line) -> Sequence[Any]:
    percent = line.margin_percent
    return (
        line.key,
        line.currency,
        line.orders,
        money.format_amount(line.revenue),
        money.format_amount(line.refunds),
        money.format_amount(line.revenue_base),
        money.format_amount(line.refunds_base),
        money.format_amount(line.discount),
        money.format_amount(line.discount_base),
        money.format_amount(line.cost),
        money.format_amount(line.margin),
        None if percent is None else f"{percent:.1f}",
        line.cost_unknown,
    )
