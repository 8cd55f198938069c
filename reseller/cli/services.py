"""`reseller services list|sync|disable|enable`: the catalog as priced, syncing it from the
providers, and the operator's overrides that every sync and reload keep."""

from __future__ import annotations

import argparse
from decimal import Decimal
from typing import Any

from reseller import db, errors, money
from reseller.catalog import overrides
from reseller.catalog import sync as catalog_sync
from reseller.cli import common, output
from reseller.config import Config
from reseller.db import Q
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
    async def read(pool: db.Database, _: Config) -> tuple[list[db.Record], dict[int, db.Record]]:
        chosen = {r["service_id"]: r for r in await pool.fetch(Q.chosen_candidates)}
        return await pool.fetch(Q.all_services), chosen

    rows, chosen = common.with_database(args, read)
    output.emit(
        args,
        ("id", "name", "type", "upstream", "cost", "rate", "margin", "state", "chosen", "why"),
        [
            (
                r["id"],
                r["name"],
                r["type"],
                f"{r['provider']}:{r['upstream_service']}" if r["provider"] else None,
                money.format_amount(r["cost_rate"]) if r["cost_rate"] is not None else None,
                money.format_amount(r["rate"]),
                _margin(r["rate"], r["cost_rate"]),
                _state(r),
                *_chosen(chosen.get(r["id"])),
            )
            for r in rows
            if r["enabled"] or not args.enabled
        ],
    )
    return 0


def _chosen(route: db.Record | None) -> tuple[str | None, str | None]:
    """The candidate the service's route tries first and why (routing/choose.py); none before
    the routing job has run."""
    if route is None or route["provider"] is None:
        return None, None
    return f"{route['provider']}:{route['upstream_service']}", route["reason"]


def _state(row: db.Record) -> str:
    if row["operator_reason"] is not None:
        return f"disabled by operator: {row['operator_reason']}"
    return "on sale" if row["enabled"] else f"disabled: {row['disabled_reason']}"


def _margin(rate: Decimal, cost: Decimal | None) -> str | None:
    if cost is None or not rate:
        return None
    return f"{(rate - cost) / rate * 100:.1f}%"


def _sync(args: argparse.Namespace) -> int:
    async def work(pool: db.Database, config: Config) -> catalog_sync.SyncReport:
        upstreams = Upstreams(config.providers)
        try:
            return await catalog_sync.sync(pool, config, upstreams, refuse_to_empty=not args.force)
        except errors.CatalogWouldEmpty as exc:
            raise errors.CatalogWouldEmpty(
                f"{exc.message}. Check the providers and the config (`reseller services list`"
                " shows what is on sale), or pass --force to apply it anyway"
            ) from None
        finally:
            await upstreams.close()

    report = common.with_database(args, work, writes="services sync")
    for provider, count in report.offered.items():
        print(f"{provider}: {count} services offered")
    for provider, why in report.failed.items():
        print(f"{provider}: FAILED ({why}); its last known services are kept")
    print(f"{report.enabled} services on sale, {len(report.disabled)} disabled")
    for service_id, reason in report.disabled:
        print(f"  disabled {service_id}: {reason}")
    _print_changes(report.changes)
    return 1 if report.failed else 0


def _print_changes(changes: catalog_sync.Changes) -> None:
    if not changes:
        print("changed: nothing (no service put on or taken off sale, no sell rate moved)")
        return
    print(
        f"changed: {len(changes.put_on_sale)} put on sale, {len(changes.taken_off_sale)} taken"
        f" off sale, {changes.prices_moved} sell rates moved"
    )
    if changes.put_on_sale:
        print(f"  put on sale: {', '.join(map(str, changes.put_on_sale))}")
    for service_id, reason in changes.taken_off_sale:
        print(f"  taken off sale {service_id}: {reason}")


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
    _print_changes(rebuilt.changes)
    return 0
