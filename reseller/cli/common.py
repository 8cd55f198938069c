"""What every command shares: the parser that fails in one line, argument types, config and
database access, and table output."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, NoReturn

from reseller import audit, currencies, days, db, dbserver, errors, migrations, money, names
from reseller import config as config_module
from reseller.audit import Actor
from reseller.config import Config

EXIT_USAGE = 2
EXIT_UNAVAILABLE = 1


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def add_global_options(parser: argparse.ArgumentParser, *, default: Any = None) -> None:
    """--config, --no-config and --actor. The top-level parser sets their defaults; every
    command repeats them with no default (SUPPRESS), so `reseller serve --config FILE` works as
    `reseller --config FILE serve` does, and a command without them keeps the top's."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--config",
        metavar="FILE",
        default=default,
        help="config file (default: $RESELLER_CONFIG or ./config.yaml)",
    )
    source.add_argument(
        "--no-config",
        action="store_true",
        default=default if default is argparse.SUPPRESS else False,
        help="run on the built-in defaults (no providers, no services), reading no config file",
    )
    parser.add_argument(
        "--actor",
        metavar="NAME",
        type=name,
        default=default if default is argparse.SUPPRESS else audit.os_user(),
        help="who is acting, for the audit trail (default: the OS user)",
    )


class CommandParser(Parser):
    """A command's parser: it takes the global options too (see `add_global_options`).
    `simulate` (add_help=False) hands every option to the simulator, so it takes none."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if kwargs.get("add_help", True):
            add_global_options(self, default=argparse.SUPPRESS)


def subcommands(parser: argparse.ArgumentParser, name: str, help: str) -> Any:
    return parser.add_parser(name, help=help).add_subparsers(  # type: ignore[attr-defined]
        required=True, metavar="ACTION", parser_class=CommandParser
    )


def actor(args: argparse.Namespace) -> Actor:
    """Who runs this command and why (its --reason, where it has one), for the audit trail."""
    return Actor(args.actor, getattr(args, "reason", None))


# --- argument types: each raises ArgumentTypeError with a one-line reason ---


def amount(text: str) -> Decimal:
    try:
        return money.parse_amount(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}")
    return int(text)


def currency(text: str) -> str:
    try:
        return currencies.parse_code(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def date(text: str) -> datetime:
    """A day, YYYY-MM-DD, at midnight UTC."""
    try:
        return days.utc_midnight(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def nonempty(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text.strip()


def name(text: str) -> str:
    try:
        return names.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# --- config and database ---


def load_config(args: argparse.Namespace, *, writes: str | None = None) -> Config:
    """The config file --config, $RESELLER_CONFIG or ./config.yaml names, else the defaults.

    A command that `writes` (its name) gets the defaults only with --no-config: run by mistake
    from another folder, `serve` or `services sync` on the defaults (no providers, no services)
    would take the live catalog off sale.
    """
    if args.no_config:
        return Config()
    path = config_module.resolve_path(args.config)
    if path is None and writes is not None:
        raise errors.ConfigError(
            f"no config file found: `{writes}` does not run on the built-in defaults (no"
            " providers, no services) unless told to. Pass --config FILE, set $RESELLER_CONFIG"
            f" (or run it where config.yaml is), or run `reseller --no-config {writes}` to use"
            " the defaults"
        )
    return config_module.load(path)


def with_database(
    args: argparse.Namespace,
    work: Callable[[db.Database, Config], Awaitable[Any]],
    *,
    writes: str | None = None,
) -> Any:
    """Run `work` with a migrated database (embedded if no DSN is configured); `writes` as in
    `load_config`."""
    return on_database(load_config(args, writes=writes), work)


def on_database(config: Config, work: Callable[[db.Database, Config], Awaitable[Any]]) -> Any:
    """Run `work` with the migrated database `config` names."""

    async def run(dsn: str) -> Any:
        async with db.connection(dsn) as conn:
            await migrations.migrate(conn)
        pool = await db.create_pool(dsn, min_size=1, max_size=4)
        try:
            return await work(pool, config)
        finally:
            await pool.close()

    with dbserver.database_dsn(config.database) as dsn:
        return asyncio.run(run(dsn))


def table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
