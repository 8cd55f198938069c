"""`reseller orders list|show|resolve`."""

from __future__ import annotations

import argparse
from typing import Any

from reseller import errors, money, reconcile
from reseller.cli import common
from reseller.db import Q

STATUSES = ("Pending", "Processing", "In progress", "Completed", "Partial", "Canceled")


def register(commands: Any) -> None:
    orders = common.subcommands(commands, "orders", "orders and their dispatch")
    listing = orders.add_parser("list", help="recent orders, newest first")
    listing.add_argument(
        "--uncertain",
        action="store_true",
        help="only orders whose upstream outcome is unknown (to resolve)",
    )
    listing.add_argument(
        "--flagged",
        action="store_true",
        help="only orders no longer polled (unusable answers, unknown upstream, too old)",
    )
    listing.add_argument("--status", choices=STATUSES)
    listing.add_argument("--customer")
    listing.add_argument("--provider")
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(command=_list)
    show = orders.add_parser("show", help="one order with its ledger entries")
    show.add_argument("id", type=int)
    show.set_defaults(command=_show)
    resolve = orders.add_parser("resolve", help="decide an uncertain order's outcome")
    resolve.add_argument("id", type=int)
    how = resolve.add_mutually_exclusive_group(required=True)
    how.add_argument(
        "--upstream-order", type=common.nonempty, help="the provider has it under this ID: link it"
    )
    how.add_argument(
        "--refund",
        action="store_true",
        help="the provider does not have it: cancel and refund in full",
    )
    resolve.set_defaults(command=_resolve)


def _list(args: argparse.Namespace) -> int:
    rows = common.with_database(
        args,
        lambda pool, _: pool.fetch(
            Q.list_orders,
            "uncertain" if args.uncertain else None,
            args.status,
            args.customer,
            args.provider,
            args.limit,
            args.flagged,
        ),
    )
    table = [
        (
            "ID",
            "CUSTOMER",
            "SERVICE",
            "STATUS",
            "DISPATCH",
            "UPSTREAM",
            "CHARGE",
            "REFUNDED",
            "NOTE",
        )
    ]
    table += [
        (
            str(r["id"]),
            r["customer"],
            str(r["service_id"]),
            r["status"],
            r["dispatch_state"],
            f"{r['provider']}:{r['upstream_order_id']}"
            if r["upstream_order_id"]
            else (r["provider"] or "-"),
            money.format_amount(r["charge"]),
            money.format_amount(r["refunded"]),
            r["note"] or "",
        )
        for r in rows
    ]
    print(common.table(table))
    return 0


def _show(args: argparse.Namespace) -> int:
    async def work(pool: Any, _: Any) -> tuple[Any, Any]:
        return await pool.fetchrow(Q.show_order, args.id), await pool.fetch(Q.order_ledger, args.id)

    order, ledger = common.with_database(args, work)
    if order is None:
        raise errors.NotFound(f"no order {args.id}")
    for field in (
        "id",
        "customer",
        "service_id",
        "service_name",
        "link",
        "quantity",
        "runs",
        "run_interval",
        "fields",
        "charge",
        "refunded",
        "currency",
        "status",
        "remains",
        "start_count",
        "dispatch_state",
        "dispatch_attempts",
        "dispatch_error",
        "provider",
        "upstream_service",
        "upstream_order_id",
        "cost",
        "created_at",
        "updated_at",
    ):
        print(f"{field:18} {order[field] if order[field] is not None else '-'}")
    for entry in ledger:
        print(
            f"ledger             {entry['kind']} {money.format_amount(entry['amount'])} "
            f"{entry['reason']} ({entry['created_at']:%Y-%m-%d %H:%M:%S})"
        )
    return 0


def _resolve(args: argparse.Namespace) -> int:
    if args.refund:
        moved = common.with_database(args, lambda pool, _: reconcile.refund(pool, args.id))
        print(f"order {args.id}: canceled, {money.format_amount(moved)} refunded")
    else:
        common.with_database(
            args, lambda pool, _: reconcile.link(pool, args.id, args.upstream_order)
        )
        print(f"order {args.id}: linked to upstream order {args.upstream_order}")
    return 0
