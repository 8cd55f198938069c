"""`reseller report` and `reseller providers balance|ping`."""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from reseller import errors, money, report
from reseller.cli import common
from reseller.config import Config
from reseller.jobs import balances
from reseller.upstream import Upstreams


def register(commands: Any) -> None:
    rep = commands.add_parser("report", help="revenue, cost, margin and refunds")
    rep.add_argument("--from", dest="start", type=_date, help="YYYY-MM-DD (default: 30 days ago)")
    rep.add_argument(
        "--to", dest="end", type=_date, help="YYYY-MM-DD, exclusive (default: tomorrow)"
    )
    rep.add_argument("--by", choices=report.GROUPINGS, default="provider")
    rep.add_argument("--json", action="store_true", help="machine-readable output")
    rep.set_defaults(command=_report)
    providers = common.subcommands(commands, "providers", "upstream providers")
    providers.add_parser("balance", help="each provider's balance now").set_defaults(
        command=_balance
    )
    providers.add_parser("ping", help="can each provider be reached, and how fast").set_defaults(
        command=_ping
    )


def _date(text: str) -> datetime:
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


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


async def _each_provider(config: Config, work: Any) -> list[tuple[str, str]]:
    upstreams = Upstreams(config.providers)
    results = []
    try:
        for client in upstreams:
            print(f"… {client.name}", flush=True)  # progress: one provider at a time
            results.append((client.name, await work(client)))
    finally:
        await upstreams.close()
    return results


def _balance(args: argparse.Namespace) -> int:
    async def work(pool: Any, config: Config) -> list[tuple[str, str]]:
        async def one(client: Any) -> str:
            try:
                check = await balances.check_balance(pool, client, config)
            except errors.UpstreamError as exc:
                return f"unavailable ({type(exc).__name__}: {exc.message})"
            note = f"  LOW (alert below {client.provider.balance_alert})" if check.low else ""
            if check.mismatch is not None:
                note += f"  OFF SALE: {check.mismatch}"
            return f"{money.format_amount(check.balance)} {check.currency}{note}"

        return await _each_provider(config, one)

    rows = common.with_database(args, work)
    print(common.table([("PROVIDER", "BALANCE"), *rows]))
    return 0


def _ping(args: argparse.Namespace) -> int:
    config = common.load_config(args)

    async def one(client: Any) -> str:
        started = time.perf_counter()
        try:
            await client.balance()
        except errors.UpstreamError as exc:
            return f"FAILED {type(exc).__name__}: {exc.message}"
        return f"ok {(time.perf_counter() - started) * 1000:.0f} ms"

    rows = asyncio.run(_each_provider(config, one))
    print(common.table([("PROVIDER", "ANSWER"), *rows]))
    return 0 if all(r.startswith("ok") for _, r in rows) else 1
