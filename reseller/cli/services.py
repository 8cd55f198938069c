"""`reseller services list|sync`: the catalog as priced, and syncing it from the providers."""

from __future__ import annotations

import argparse
from decimal import Decimal
from typing import Any

from reseller import db, errors, money
from reseller.catalog import sync as catalog_sync
from reseller.cli import common
from reseller.config import Config
from reseller.db import Q
from reseller.upstream import Upstreams


def register(commands: Any) -> None:
    services = common.subcommands(commands, "services", "the local catalog")
    listing = services.add_parser("list", help="local services with upstream, cost, rate, margin")
    listing.add_argument("--enabled", action="store_true", help="only services on sale")
    listing.set_defaults(command=_list)
    sync = services.add_parser("sync", help="fetch the providers' services now and reprice")
    sync.add_argument(
        "--force",
        action="store_true",
        help="apply the sync even if it takes every service off sale",
    )
    sync.set_defaults(command=_sync)


def _list(args: argparse.Namespace) -> int:
    rows = common.with_database(args, lambda pool, _: pool.fetch(Q.all_services))
    table = [("ID", "NAME", "TYPE", "UPSTREAM", "COST", "RATE", "MARGIN", "STATE")]
    for r in rows:
        if args.enabled and not r["enabled"]:
            continue
        cost = r["cost_rate"]
        table.append(
            (
                str(r["id"]),
                r["name"],
                r["type"],
                f"{r['provider']}:{r['upstream_service']}" if r["provider"] else "-",
                money.format_amount(cost) if cost is not None else "-",
                money.format_amount(r["rate"]),
                _margin(r["rate"], cost),
                "on sale" if r["enabled"] else f"disabled: {r['disabled_reason']}",
            )
        )
    print(common.table(table))
    return 0


def _margin(rate: Decimal, cost: Decimal | None) -> str:
    if cost is None or not rate:
        return "-"
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
    return 1 if report.failed else 0
