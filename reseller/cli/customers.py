"""`reseller customers …` and `reseller balance add`."""

from __future__ import annotations

import argparse
from decimal import Decimal
from typing import Any

from reseller import currencies, customers, db, errors, money
from reseller.cli import common
from reseller.config import Config


def register(commands: Any) -> None:
    cust = common.subcommands(commands, "customers", "manage customers")
    add = cust.add_parser("add", help="create a customer; prints its API key once")
    add.add_argument("name", type=common.name)
    add.add_argument("--balance", type=common.amount, default=Decimal(0))
    add.add_argument(
        "--currency",
        type=common.currency,
        default=None,
        help="what the customer pays in (default: api.currency; others need currency_rates)",
    )
    add.set_defaults(command=_add)
    cust.add_parser("list", help="list customers").set_defaults(command=_list)
    for action, suspended in (("suspend", True), ("resume", False)):
        sub = cust.add_parser(action, help=f"{action} a customer's API access")
        sub.add_argument("name")
        sub.add_argument("--reason", type=common.nonempty, help="why, for the audit trail")
        sub.set_defaults(command=_suspend, suspended=suspended)
    rotate = cust.add_parser("rotate-key", help="issue a new API key; the old one stops working")
    rotate.add_argument("name")
    rotate.add_argument("--reason", type=common.nonempty, help="why, for the audit trail")
    rotate.set_defaults(command=_rotate)

    balance = common.subcommands(commands, "balance", "customer balances")
    topup = balance.add_parser("add", help="top up (or, negative, adjust) a balance")
    topup.add_argument("name")
    topup.add_argument("amount", type=common.amount)
    topup.add_argument("--reason", required=True, type=common.nonempty)
    topup.set_defaults(command=_balance_add)


def _add(args: argparse.Namespace) -> int:
    config = common.load_config(args)
    currency = args.currency or config.api.currency
    currencies.require_rate(config, currency)  # before anything is written

    async def work(pool: db.Database, config: Config) -> tuple[customers.Customer, str]:
        return await customers.create(pool, args.name, balance=args.balance, currency=currency)

    customer, key = common.with_database(args, work)
    print(
        f"created customer {customer.name} (id {customer.id}), balance "
        f"{money.format_amount(customer.balance)} {customer.currency}"
    )
    print(f"API key (shown once, store it now): {key}")
    return 0


def _list(args: argparse.Namespace) -> int:
    rows = common.with_database(args, lambda pool, _: customers.list_all(pool))
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
    print(common.table(table))
    return 0


def _suspend(args: argparse.Namespace) -> int:
    common.with_database(
        args,
        lambda pool, _: customers.set_suspended(
            pool, args.name, suspended=args.suspended, by=common.actor(args)
        ),
    )
    print(f"{args.name}: {'suspended' if args.suspended else 'active'}")
    return 0


def _rotate(args: argparse.Namespace) -> int:
    key = common.with_database(
        args, lambda pool, _: customers.rotate_key(pool, args.name, by=common.actor(args))
    )
    print(f"new API key for {args.name} (shown once; the old key no longer works): {key}")
    return 0


def _balance_add(args: argparse.Namespace) -> int:
    try:
        balance = common.with_database(
            args,
            lambda pool, _: customers.add_balance(
                pool, args.name, args.amount, by=common.actor(args)
            ),
        )
    except errors.InsufficientBalance:
        raise errors.ResellerError(f"refused: {args.name}'s balance would go below zero") from None
    print(f"{args.name}: balance {money.format_amount(balance)}")
    return 0
