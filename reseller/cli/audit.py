"""`reseller audit`: the operator actions, who did them and why."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from reseller import audit, errors
from reseller.cli import common, output


def register(commands: Any) -> None:
    trail = commands.add_parser("audit", help="operator actions: who did what, when and why")
    trail.add_argument("--from", dest="start", type=common.date, help="YYYY-MM-DD (default: all)")
    trail.add_argument(
        "--to", dest="end", type=common.date, help="YYYY-MM-DD, exclusive (default: tomorrow)"
    )
    trail.add_argument("--subject", help="only entries about this (a customer, `order 42` …)")
    output.add_format_options(trail)
    trail.set_defaults(command=_audit)


def _audit(args: argparse.Namespace) -> int:
    start = args.start or datetime(1970, 1, 1, tzinfo=UTC)
    end = args.end or datetime.now(UTC).replace(
        hour=0, minute=0, second=0, microsecond=0
    ) + timedelta(days=1)
    if end <= start:
        raise errors.ResellerError("--to must be after --from")
    rows = common.with_database(
        args, lambda pool, _: audit.entries(pool, start, end, subject=args.subject)
    )
    output.emit(
        args,
        ("id", "at", "actor", "action", "subject", "reason", "detail"),
        [
            (
                r["id"],
                f"{r['created_at']:%Y-%m-%d %H:%M:%S}",
                r["actor"],
                r["action"],
                r["subject"],
                r["reason"],
                orjson.dumps(r["detail"]).decode() if r["detail"] else None,
            )
            for r in rows
        ],
    )
    return 0
