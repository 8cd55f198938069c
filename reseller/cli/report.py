"""`reseller report`: revenue, cost, margin and refunds over a period."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from reseller import errors, money, report
from reseller.cli import common


def register(commands: Any) -> None:
    rep = commands.add_parser("report", help="revenue, cost, margin and refunds")
    rep.add_argument(
        "--from", dest="start", type=common.date, help="YYYY-MM-DD (default: 30 days ago)"
    )
    rep.add_argument(
        "--to", dest="end", type=common.date, help="YYYY-MM-DD, exclusive (default: tomorrow)"
    )
    rep.add_argument("--by", choices=report.GROUPINGS, default="provider")
    rep.add_argument("--json", action="store_true", help="machine-readable output")
    rep.set_defaults(command=_report)


def _report(args: argparse.Namespace) -> int:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = args.start or today - timedelta(days=30)
    end = args.end or today + timedelta(days=1)
    if end <= start:
        raise errors.ResellerError("--to must be after --from")
    result = common.with_database(
        args, lambda pool, config: report.build(pool, config, start=start, end=end, by=args.by)
    )
    rows = [*result.lines, result.total]
    if args.json:
        print(
            orjson.dumps(
                {
                    "from": start.date().isoformat(),
                    "to": end.date().isoformat(),
                    "by": args.by,
                    "lines": [_as_dict(line) for line in rows],
                },
                option=orjson.OPT_INDENT_2,
            ).decode()
        )
        return 0
    base = result.total.currency
    table = [
        (
            args.by.upper(),
            "CURRENCY",
            "ORDERS",
            "REVENUE",
            "REFUNDS",
            f"REVENUE {base}",
            f"COST {base}",
            f"MARGIN {base}",
            "MARGIN %",
            "COST UNKNOWN",
        )
    ]
    table += [
        (
            line.key,
            line.currency,
            str(line.orders),
            money.format_amount(line.revenue),
            money.format_amount(line.refunds),
            money.format_amount(line.revenue_base),
            money.format_amount(line.cost),
            money.format_amount(line.margin),
            _percent(line),
            str(line.cost_unknown),
        )
        for line in rows
    ]
    print(f"{start:%Y-%m-%d} to {end:%Y-%m-%d} (exclusive), by {args.by}; totals in {base}")
    print(common.table(table))
    return 0


def _as_dict(line: report.Line) -> dict[str, Any]:
    return {
        "key": line.key,
        "currency": line.currency,
        "orders": line.orders,
        "revenue": money.format_amount(line.revenue),
        "refunds": money.format_amount(line.refunds),
        "revenue_base": money.format_amount(line.revenue_base),
        "refunds_base": money.format_amount(line.refunds_base),
        "cost": money.format_amount(line.cost),
        "margin": money.format_amount(line.margin),
        "margin_percent": _percent(line),
        "cost_unknown": line.cost_unknown,
    }


def _percent(line: report.Line) -> str:
    value = line.margin_percent
    return "-" if value is None else f"{value:.1f}"
