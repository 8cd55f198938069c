"""`reseller orders list|show|resolve|resolve-refill|resolve-run`."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from reseller import errors, money
from reseller.cli import common, order_story, output
from reseller.config import Config
from reseller.orders import resolve, search
from reseller.states import DispatchState, OrderStatus
from reseller.upstream import Upstreams

PAGE = 50  # `orders list` rows unless --limit says otherwise


def register(commands: Any) -> None:
    orders = common.subcommands(commands, "orders", "orders and their dispatch")
    listing = orders.add_parser("list", help="recent orders, newest first")
    listing.add_argument(
        "--uncertain",
        action="store_true",
        help="only orders and refills whose upstream outcome is unknown (to resolve)",
    )
    listing.add_argument(
        "--flagged",
        action="store_true",
        help="only orders no longer polled (unusable answers, unknown upstream, too old) or"
        " frozen (an answer outside the strict table)",
    )
    listing.add_argument(
        "--waiting",
        action="store_true",
        help="only orders held in the queue while their link has an active order upstream",
    )
    listing.add_argument("--status", choices=tuple(OrderStatus))
    listing.add_argument("--customer")
    listing.add_argument("--provider")
    listing.add_argument("--limit", type=_positive, default=PAGE, help=f"rows per page ({PAGE})")
    listing.add_argument(
        "--before", type=_positive, metavar="ID", help="the next page: orders with id < ID"
    )
    output.add_format_options(listing)
    listing.set_defaults(command=_list)
    show = orders.add_parser(
        "show",
        help="one order: its fields, then its ledger entries, refills, cancel requests,"
        " operator actions and settlement, oldest first",
    )
    show.add_argument("id", type=int)
    show.add_argument("--json", action="store_true", help="the same as one JSON object")
    show.set_defaults(command=order_story.show)
    resolving = orders.add_parser(
        "resolve", help="decide an uncertain order's outcome, or settle a frozen one"
    )
    resolving.add_argument("id", type=int)
    how = resolving.add_mutually_exclusive_group(required=True)
    how.add_argument(
        "--accept-status",
        choices=resolve.SETTLE_STATUSES,
        help="a frozen order: settle it on this final status, as read at the provider",
    )
    how.add_argument(
        "--upstream-order",
        type=common.nonempty,
        help="the provider has it under this ID: link it (once the provider's status for it"
        " fits the order)",
    )
    how.add_argument(
        "--refund",
        action="store_true",
        help="the provider does not have it: cancel and refund in full",
    )
    resolving.add_argument(
        "--remains",
        type=_positive,
        help="with --accept-status Partial: the units not delivered (1 to the quantity)",
    )
    resolving.add_argument("--reason", type=common.nonempty, help="why, for the audit trail")
    resolving.set_defaults(command=_resolve)
    refill = orders.add_parser("resolve-refill", help="decide an uncertain refill's outcome")
    refill.add_argument("id", type=int)
    how = refill.add_mutually_exclusive_group(required=True)
    how.add_argument(
        "--upstream-refill",
        type=common.nonempty,
        help="the provider has it under this ID: link it (once the provider knows it)",
    )
    how.add_argument(
        "--rejected",
        action="store_true",
        help="the provider does not have it: reject it (the customer may ask again)",
    )
    refill.add_argument("--reason", type=common.nonempty, help="why, for the audit trail")
    refill.set_defaults(command=_resolve_refill)
    run = orders.add_parser(
        "resolve-run", help="decide an uncertain run of an emulated drip-feed order"
    )
    run.add_argument("id", type=int, help="the order")
    run.add_argument("run", type=_positive, help="its run (1, 2, …)")
    how = run.add_mutually_exclusive_group(required=True)
    how.add_argument(
        "--upstream-order",
        type=common.nonempty,
        help="the provider has the run under this ID: link it (once the provider's status for"
        " it fits the run)",
    )
    how.add_argument(
        "--refund",
        action="store_true",
        help="the provider does not have it: the run ends undelivered, its share refunded",
    )
    run.add_argument("--reason", type=common.nonempty, help="why, for the audit trail")
    run.set_defaults(command=_resolve_run)


def _positive(text: str) -> int:
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError("must be a whole number from 1")
    return int(text)


def _list(args: argparse.Namespace) -> int:
    filters = search.Filters(
        customer=args.customer,
        provider=args.provider,
        status=args.status,
        dispatch_state=DispatchState.UNCERTAIN if args.uncertain else None,
        flagged=args.flagged,
        waiting=args.waiting,
    )
    page = common.with_database(
        args, lambda pool, _: search.find(pool, filters, limit=args.limit, before=args.before)
    )
    orders, refills, runs = page.orders, page.refills, page.runs
    columns = [
        "id",
        "customer",
        "service",
        "status",
        "dispatch",
        "upstream",
        "charge",
        "refunded",
        "note",
    ]
    rows = [
        [
            r["id"],
            r["customer"],
            r["service_id"],
            r["status"],
            r["dispatch_state"],
            search.upstream(r),
            money.format_amount(r["charge"]),
            money.format_amount(r["refunded"]),
            r["note"],
        ]
        for r in orders
    ]
    if args.uncertain:
        columns.insert(1, "kind")
        for row in rows:
            row.insert(1, "order")
        rows += [_aside(r, r["id"], "refill", f"refill of order {r['order_id']}") for r in refills]
        rows += [
            _aside(r, r["order_id"], "run", f"drip-feed run {r['run']} of order {r['order_id']}")
            for r in runs
        ]
    output.emit(args, columns, rows)
    # CSV and JSON are the rows alone: what else there is goes to stderr, for the person
    # watching, and the next page is still `--before` the smallest ID in them.
    aside = sys.stderr if args.csv or args.json else sys.stdout
    if page.more_refills:
        print(f"… more uncertain refills than the {args.limit} shown: raise --limit", file=aside)
    if page.more_runs:
        print(f"… more uncertain runs than the {args.limit} shown: raise --limit", file=aside)
    if page.more:
        print(f"… more: {_next_page(args, orders[-1]['id'])}", file=aside)
    return 0


def _aside(row: Any, listed_id: int, kind: str, what: str) -> list[Any]:
    """An uncertain refill or run, listed among the uncertain orders (no money of its own)."""
    return [
        listed_id,
        kind,
        row["customer"],
        row["service_id"],
        row["status"],
        row["dispatch_state"],
        search.upstream(row),
        None,
        None,
        f"{what}: {row['note'] or ''}",
    ]


def _next_page(args: argparse.Namespace, before: int) -> str:
    """The same listing's next page, as a command to paste."""
    words = ["reseller", "orders", "list"]
    words += ["--uncertain"] * args.uncertain + ["--flagged"] * args.flagged
    words += ["--waiting"] * args.waiting
    for option in ("status", "customer", "provider"):
        if getattr(args, option) is not None:
            words += [f"--{option}", getattr(args, option)]
    if args.limit != PAGE:
        words += ["--limit", str(args.limit)]
    return shlex.join([*words, "--before", str(before)])


def _resolve(args: argparse.Namespace) -> int:
    if (args.remains is not None) != (args.accept_status == OrderStatus.PARTIAL):
        raise errors.SettlementRefused(
            "--remains goes with --accept-status Partial, and only with it; nothing changed"
        )
    if args.accept_status is not None:
        moved = common.with_database(
            args,
            lambda pool, config: resolve.settle_frozen(
                pool,
                args.id,
                args.accept_status,
                args.remains,
                by=common.actor(args),
                loss_tolerance=config.sync.loss_tolerance,
            ),
        )
        print(f"order {args.id}: {args.accept_status}, {money.format_amount(moved)} refunded")
    elif args.refund:
        moved = common.with_database(
            args, lambda pool, _: resolve.refund(pool, args.id, by=common.actor(args))
        )
        print(f"order {args.id}: canceled, {money.format_amount(moved)} refunded")
    else:
        _asking_providers(
            args,
            lambda pool, ups: resolve.link(
                pool, ups, args.id, args.upstream_order, by=common.actor(args)
            ),
        )
        print(f"order {args.id}: linked to upstream order {args.upstream_order}")
    return 0


def _resolve_refill(args: argparse.Namespace) -> int:
    if args.rejected:
        common.with_database(
            args, lambda pool, _: resolve.reject_refill(pool, args.id, by=common.actor(args))
        )
        print(f"refill {args.id}: rejected")
    else:
        _asking_providers(
            args,
            lambda pool, ups: resolve.link_refill(
                pool, ups, args.id, args.upstream_refill, by=common.actor(args)
            ),
        )
        print(f"refill {args.id}: linked to upstream refill {args.upstream_refill}")
    return 0


def _resolve_run(args: argparse.Namespace) -> int:
    if args.refund:
        moved = common.with_database(
            args,
            lambda pool, _: resolve.refund_run(pool, args.id, args.run, by=common.actor(args)),
        )
        print(f"order {args.id} run {args.run}: not sent, {money.format_amount(moved)} refunded")
    else:
        _asking_providers(
            args,
            lambda pool, ups: resolve.link_run(
                pool, ups, args.id, args.run, args.upstream_order, by=common.actor(args)
            ),
        )
        print(f"order {args.id} run {args.run}: linked to upstream order {args.upstream_order}")
    return 0


def _asking_providers(
    args: argparse.Namespace, work: Callable[[Any, Upstreams], Awaitable[None]]
) -> None:
    """Run `work` with clients for the configured providers: a link is checked with them."""

    async def run(pool: Any, config: Config) -> None:
        upstreams = Upstreams(config.providers)
        try:
            await work(pool, upstreams)
        finally:
            await upstreams.close()

    common.with_database(args, run)
