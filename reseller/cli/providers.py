"""`reseller providers balance|ping`: ask each provider now. Both only read: neither writes to
the database (the balances job records balances and acts on them); `balance` reads from it how
each provider treated the refunds it owed and its rates. Both exit 1 when a provider could not
be asked, so a script or a timer notices."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from reseller import errors, money
from reseller.cli import common, losses, output
from reseller.cli import quality as quality_cli
from reseller.config import Config
from reseller.jobs import balances
from reseller.reports import provider_losses
from reseller.upstream import ProviderClient, Upstreams, ping

FIGURES_DAYS = 30


def register(commands: Any) -> None:
    providers = common.subcommands(commands, "providers", "upstream providers")
    providers.add_parser(
        "balance", help="each provider's balance now, and whether it is low, paused or mismatched"
    ).set_defaults(command=_balance)
    providers.add_parser("ping", help="can each provider be reached, and how fast").set_defaults(
        command=_ping
    )
    figures = providers.add_parser(
        "quality", help="what each upstream service delivered, as the routing job last measured"
    )
    figures.add_argument("--service", type=int, metavar="ID", help="one local service's candidates")
    output.add_format_options(figures)
    figures.set_defaults(command=quality_cli.show)


async def _each_provider(
    config: Config, work: Callable[[ProviderClient], Awaitable[str]]
) -> list[tuple[str, str]]:
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
    """Classified exactly as the balances job classifies it (`balances.ask`), but nothing is
    recorded and the catalog is left alone: the job, on its schedule, does that."""
    unreachable = []

    async def one(client: ProviderClient) -> str:
        try:
            check = await balances.ask(client)
        except errors.UpstreamError as exc:
            unreachable.append(client.name)
            return f"unavailable ({type(exc).__name__}: {exc.message})"
        provider = client.provider
        note = f"  LOW (alert below {provider.balance_alert})" if check.low else ""
        if check.paused:
            note += f"  PAUSED (below {provider.pause_below})"
        if check.mismatch is not None:
            note += f"  CURRENCY MISMATCH: {check.mismatch}"
        return f"{money.format_amount(check.balance)} {check.currency}{note}"

    config = common.load_config(args)
    rows = asyncio.run(_each_provider(config, one))
    print(common.table([("PROVIDER", "BALANCE"), *rows]))
    _provider_figures(config)
    return 1 if unreachable else 0


def _provider_figures(config: Config) -> None:
    """How each provider treated the refunds it owed us and its rates, from the orders placed
    in the last FIGURES_DAYS days (read from the database; the balances above need none)."""
    end = datetime.now(UTC)
    start = end - timedelta(days=FIGURES_DAYS)
    try:
        figures = common.on_database(
            config, lambda pool, cfg: provider_losses.figures(pool, cfg, start=start, end=end)
        )
    except errors.DatabaseUnavailable as exc:
        print(f"\nRefunds honoured and overcharges: not shown ({exc.message})")
        return
    print(f"\nOrders placed in the last {FIGURES_DAYS} days (`reseller report --losses`):")
    header = [c.upper().replace("_", " ") for c in losses.PROVIDER_COLUMNS]
    cells = [["-" if v is None else str(v) for v in losses.figure_row(f)] for f in figures]
    print(common.table([header, *cells]))


def _ping(args: argparse.Namespace) -> int:
    async def one(client: ProviderClient) -> str:
        return str(await ping.ping(client))

    rows = asyncio.run(_each_provider(common.load_config(args), one))
    print(common.table([("PROVIDER", "ANSWER"), *rows]))
    return 0 if all(r.startswith("ok") for _, r in rows) else 1
