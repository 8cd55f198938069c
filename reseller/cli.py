"""The operator's command line: `reseller <command>`.

Every command finds its config with --config FILE, else $RESELLER_CONFIG, else ./config.yaml.
Bad input gets one line on stderr and exit code 2; nothing is half-done.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import Any, NoReturn

from reseller import config as config_module
from reseller import customers, db, dbserver, errors, logs, migrations, money, server
from reseller.config import Config

EXIT_USAGE = 2
EXIT_UNAVAILABLE = 1


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.command(args)
    except errors.DatabaseUnavailable as exc:
        return _fail(exc.message, EXIT_UNAVAILABLE)
    except (errors.ResellerError, ValueError) as exc:
        return _fail(str(exc), EXIT_USAGE)
    except KeyboardInterrupt:
        return 130


def _fail(message: str, code: int) -> int:
    print(f"reseller: {message}", file=sys.stderr)
    return code


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="reseller", description="SMM-panel reseller (API v2)")
    parser.add_argument(
        "--config", metavar="FILE", help="config file (default: $RESELLER_CONFIG or ./config.yaml)"
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND", parser_class=_Parser)

    serve = commands.add_parser("serve", help="run the API server")
    serve.add_argument("--host", help="listen address (overrides server.host)")
    serve.add_argument("--port", type=_port, help="listen port (overrides server.port)")
    serve.set_defaults(command=_serve)

    commands.add_parser("migrate", help="apply database migrations").set_defaults(command=_migrate)

    check = (
        commands.add_parser("config", help="configuration")
        .add_subparsers(required=True, metavar="ACTION", parser_class=_Parser)
        .add_parser("check", help="validate a config file without applying it")
    )
    check.add_argument("file", nargs="?", help="the file (default: the one --config finds)")
    check.set_defaults(command=_config_check)

    cust = commands.add_parser("customers", help="manage customers").add_subparsers(
        required=True, metavar="ACTION", parser_class=_Parser
    )
    add = cust.add_parser("add", help="create a customer; prints its API key once")
    add.add_argument("name", type=_name)
    add.add_argument("--balance", type=_amount, default=Decimal(0))
    add.add_argument("--currency", type=_currency, default=None, help="default: api.currency")
    add.set_defaults(command=_customers_add)
    cust.add_parser("list", help="list customers").set_defaults(command=_customers_list)
    for action, suspended in (("suspend", True), ("resume", False)):
        sub = cust.add_parser(action, help=f"{action} a customer's API access")
        sub.add_argument("name")
        sub.set_defaults(command=_customers_suspend, suspended=suspended)
    rotate = cust.add_parser("rotate-key", help="issue a new API key; the old one stops working")
    rotate.add_argument("name")
    rotate.set_defaults(command=_customers_rotate)

    balance = commands.add_parser("balance", help="customer balances").add_subparsers(
        required=True, metavar="ACTION", parser_class=_Parser
    )
    topup = balance.add_parser("add", help="top up (or, negative, adjust) a balance")
    topup.add_argument("name")
    topup.add_argument("amount", type=_amount)
    topup.add_argument("--reason", required=True, type=_nonempty)
    topup.set_defaults(command=_balance_add)
    return parser


# --- argument types: each raises ArgumentTypeError with a one-line reason ---


def _amount(text: str) -> Decimal:
    try:
        return money.parse_amount(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}")
    return int(text)


def _currency(text: str) -> str:
    if len(text) != 3 or not text.isalpha() or not text.isupper():
        raise argparse.ArgumentTypeError(f"not a 3-letter currency code: {text!r}")
    return text


def _nonempty(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text.strip()


def _name(text: str) -> str:
    name = _nonempty(text)
    if len(name) > 100 or not name.isprintable():
        raise argparse.ArgumentTypeError("use up to 100 printable characters")
    return name


# --- commands ---


def _load_config(args: argparse.Namespace) -> Config:
    return config_module.load(config_module.resolve_path(args.config))


def _with_database(
    args: argparse.Namespace, work: Callable[[db.Pool, Config], Awaitable[Any]]
) -> Any:
    """Run `work` with a migrated database (embedded if no DSN is configured)."""
    config = _load_config(args)

    async def run(dsn: str) -> Any:
        async with db.connection(dsn) as conn:
            await migrations.migrate(conn)
        pool = await db.create_pool(dsn, min_size=1, max_size=2)
        try:
            return await work(pool, config)
        finally:
            await pool.close()

    with dbserver.database_dsn(config.database) as dsn:
        return asyncio.run(run(dsn))


def _serve(args: argparse.Namespace) -> int:
    config = _load_config(args)
    logs.configure()
    for problem in config.missing_secrets():
        print(f"reseller: warning: {problem}", file=sys.stderr)
    host = args.host or config.server.host
    port = args.port or config.server.port
    with dbserver.database_dsn(config.database) as dsn:
        asyncio.run(server.serve(config, dsn, host=host, port=port))
    return 0


def _migrate(args: argparse.Namespace) -> int:
    config = _load_config(args)

    async def run(dsn: str) -> list[str]:
        async with db.connection(dsn) as conn:
            return await migrations.migrate(conn)

    with dbserver.database_dsn(config.database) as dsn:
        applied = asyncio.run(run(dsn))
    print("\n".join(f"applied {name}" for name in applied) or "database is up to date")
    return 0


def _config_check(args: argparse.Namespace) -> int:
    path = config_module.resolve_path(args.file or args.config)
    if path is None:
        raise errors.ConfigError("no config file: pass FILE, --config, or set $RESELLER_CONFIG")
    config = config_module.load(path)
    if missing := config.missing_secrets():
        raise errors.ConfigError(f"{path}: " + "; ".join(missing))
    print(f"{path}: ok ({len(config.providers)} providers, {len(config.services)} services)")
    return 0


def _customers_add(args: argparse.Namespace) -> int:
    async def work(pool: db.Pool, config: Config) -> tuple[customers.Customer, str]:
        currency = args.currency or config.api.currency
        return await customers.create(pool, args.name, balance=args.balance, currency=currency)

    customer, key = _with_database(args, work)
    print(
        f"created customer {customer.name} (id {customer.id}), balance "
        f"{money.format_amount(customer.balance)} {customer.currency}"
    )
    print(f"API key (shown once, store it now): {key}")
    return 0


def _customers_list(args: argparse.Namespace) -> int:
    rows = _with_database(args, lambda pool, _: customers.list_all(pool))
    table = [("ID", "NAME", "BALANCE", "CURRENCY", "STATE", "RATE LIMIT")]
    table += [
        (
            str(c.id),
            c.name,
            money.format_amount(c.balance),
            c.currency,
            "suspended" if c.suspended else "active",
            str(c.rate_limit_per_minute) if c.rate_limit_per_minute else "default",
        )
        for c in rows
    ]
    print(_table(table))
    return 0


def _customers_suspend(args: argparse.Namespace) -> int:
    _with_database(
        args, lambda pool, _: customers.set_suspended(pool, args.name, suspended=args.suspended)
    )
    print(f"{args.name}: {'suspended' if args.suspended else 'active'}")
    return 0


def _customers_rotate(args: argparse.Namespace) -> int:
    key = _with_database(args, lambda pool, _: customers.rotate_key(pool, args.name))
    print(f"new API key for {args.name} (shown once; the old key no longer works): {key}")
    return 0


def _balance_add(args: argparse.Namespace) -> int:
    try:
        balance = _with_database(
            args,
            lambda pool, _: customers.add_balance(pool, args.name, args.amount, reason=args.reason),
        )
    except errors.InsufficientBalance:
        raise errors.ResellerError(f"refused: {args.name}'s balance would go below zero") from None
    print(f"{args.name}: balance {money.format_amount(balance)}")
    return 0


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


if __name__ == "__main__":
    sys.exit(main())
