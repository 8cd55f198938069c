"""`reseller services list|sync|disable|enable`: the catalog as priced, syncing it from the
providers, and the operator's overrides that every sync and reload keep."""

from __future__ import annotations

import argparse
from typing import Any

from reseller import db, errors, money
from reseller.catalog import listing, overrides
from reseller.catalog import sync as catalog_sync
from reseller.cli import common, output
from reseller.config import Config
from reseller.upstream import Upstreams


def register(commands: Any) -> None:
    services = common.subcommands(commands, "services", "the local catalog")
    listing = services.add_parser("list", help="local services with upstream, cost, rate, margin")
    listing.add_argument("--enabled", action="store_true", help="only services on sale")
    output.add_format_options(listing)
    listing.set_defaults(command=_list)
    sync = services.add_parser("sync", help="fetch the providers' services now and reprice")
    sync.add_argument(
        "--force",
        action="store_true",
        help="apply the sync even if it takes every service off sale",
    )
    sync.set_defaults(command=_sync)
    disable = services.add_parser(
        "disable", help="take a service off sale; every sync and reload keeps it off"
    )
    disable.add_argument("id", type=_service_id)
    disable.add_argument("--reason", required=True, type=common.nonempty)
    disable.set_defaults(command=_disable)
    enable = services.add_parser(
        "enable",
        help="undo `disable`: the config is applied again, as a reload does; the service is on"
        " sale if the catalog allows it",
    )
    enable.add_argument("id", type=_service_id)
    enable.add_argument("--reason", type=common.nonempty, help="why, for the audit trail")
    enable.set_defaults(command=_enable)


def _service_id(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 2**31:
        raise argparse.ArgumentTypeError(f"not a service ID: {text!r}")
    return int(text)


def _list(args: argparse.Namespace) -> int:
    rows = common.with_database(args, lambda pool, _: listing.lines(pool))
    output.emit(
        args,
        ("id", "name", "type", "upstream", "cost", "rate", "margin", "state", "chosen", "why"),
        [
            (
                r.id,
                r.name,
                r.type,
                r.upstream,
                money.format_amount(r.cost) if r.cost is not None else None,
                money.format_amount(r.rate),
                r.margin,
                r.state,
                r.chosen,
                r.why,
            )
            for r in rows
            if r.on_sale or not args.enabled
        ],
    )
    return 0


def _sync(args: argparse.Namespace) -> int:
    async def work(pool: db.Database, config: Config) -> catalog_sync.SyncReport:
        upstreams = Upstreams(config.providers)
        try:
            return await catalog_sync.sync(
                pool, config, upstreams, refuse_to_empty=not args.force, by=common.actor(args)
            )
        except errors.CatalogWouldEmpty as exc:
            raise errors.CatalogWouldEmpty(
                f"{exc.message}. Check the providers and the config (`reseller services list`"
                " shows what is on sale), or pass --force to apply it anyway"
            ) from None
        finally:
            await upstreams.close()

    report = common.with_database(args, work, writes="services sync")
    print("\n".join(catalog_sync.report_lines(report)))
    return 1 if report.failed else 0


def _disable(args: argparse.Namespace) -> int:
    common.with_database(
        args, lambda pool, _: overrides.disable(pool, args.id, by=common.actor(args))
    )
    print(
        f"service {args.id}: disabled by operator ({args.reason}); every sync and reload keeps"
        f" it off sale until `reseller services enable {args.id}`"
    )
    return 0


def _enable(args: argparse.Namespace) -> int:
    async def work(pool: db.Database, config: Config) -> catalog_sync.Rebuilt:
        try:
            return await overrides.enable(pool, config, args.id, by=common.actor(args))
        except errors.CatalogWouldEmpty as exc:
            raise errors.CatalogWouldEmpty(
                f"{exc.message}. Is this the config the server runs? (--config FILE)"
            ) from None

    rebuilt = common.with_database(args, work, writes="services enable")
    print(f"service {args.id}: no longer disabled by operator; {overrides.state(rebuilt, args.id)}")
    print("\n".join(catalog_sync.change_lines(rebuilt.changes)))
    return 0
