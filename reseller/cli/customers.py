"""`reseller customers …` and `reseller balance add`."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

import orjson

from reseller import catalog, currencies, customers, db, errors, money
from reseller.catalog import customer_prices, groups
from reseller.catalog.customer_prices import PriceOverride
from reseller.cli import common, output
from reseller.config import Config
from reseller.config.groups import NO_GROUP


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
    listing = cust.add_parser("list", help="list customers")
    output.add_format_options(listing)
    listing.set_defaults(command=_list)
    change = cust.add_parser("set", help="change a customer's rate limit, name or price group")
    change.add_argument("name")
    change.add_argument(
        "--rate-limit",
        type=_rate_limit,
        metavar="N",
        help="requests per minute, or `default` for api.rate_limit_per_minute",
    )
    change.add_argument(
        "--name", dest="new_name", type=common.name, help="a new name; its API key keeps working"
    )
    change.add_argument(
        "--group",
        dest="price_group",
        metavar="G",
        help=f"a price group of pricing.groups, or `{NO_GROUP}` for the price list",
    )
    change.add_argument("--reason", type=common.nonempty, help="why, for the audit trail")
    change.set_defaults(command=_set)
    price = cust.add_parser(
        "price", help="a customer's own rate or discount for a service, on top of its group"
    )
    price.add_argument("name")
    price.add_argument("--service", type=_service_id, required=True, metavar="ID")
    how = price.add_mutually_exclusive_group(required=True)
    how.add_argument("--rate", type=_rate, metavar="X", help="the sell rate, base currency")
    how.add_argument(
        "--discount",
        type=_discount,
        metavar="P",
        help="percent off what the customer would otherwise pay (group or price list)",
    )
    how.add_argument("--clear", action="store_true", help="back to the group's or list's rate")
    price.add_argument("--reason", type=common.nonempty, help="why, for the audit trail")
    price.set_defaults(command=_price)
    prices = cust.add_parser(
        "prices", help="a customer's own prices: what it pays now, on sale or why not"
    )
    prices.add_argument("name")
    output.add_format_options(prices)
    prices.set_defaults(command=_prices)
    statement = cust.add_parser(
        "statement", help="ledger entries with order, reason and running balance"
    )
    statement.add_argument("name")
    statement.add_argument(
        "--from", dest="start", type=common.date, help="YYYY-MM-DD (default: the first entry)"
    )
    statement.add_argument(
        "--to", dest="end", type=common.date, help="YYYY-MM-DD, exclusive (default: now)"
    )
    output.add_format_options(statement)
    statement.set_defaults(command=_statement)
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
        return await customers.create(
            pool, args.name, balance=args.balance, currency=currency, by=common.actor(args)
        )

    customer, key = common.with_database(args, work)
    print(
        f"created customer {customer.name} (id {customer.id}), balance "
        f"{money.format_amount(customer.balance)} {customer.currency}"
    )
    print(f"API key (shown once, store it now): {key}")
    return 0


def _rate_limit(text: str) -> int | Literal["default"]:
    try:
        return customers.parse_rate_limit(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _list(args: argparse.Namespace) -> int:
    rows = common.with_database(args, lambda pool, _: customers.list_all(pool))
    output.emit(
        args,
        ("id", "name", "balance", "currency", "state", "rate_limit", "group", "paid_30d"),
        [
            (
                c.id,
                c.name,
                money.format_amount(c.balance),
                c.currency,
                "suspended" if c.suspended else "active",
                c.rate_limit_per_minute or customers.DEFAULT_RATE_LIMIT,
                c.price_group,
                money.format_amount(c.spent_30d),
            )
            for c in rows
        ],
    )
    return 0


def _set(args: argparse.Namespace) -> int:
    if args.rate_limit is None and args.new_name is None and args.price_group is None:
        raise errors.ResellerError(
            "nothing to change: give --rate-limit N, --name NEW and/or --group G"
        )

    async def work(pool: db.Database, config: Config) -> customers.Customer:
        if args.price_group is not None:
            customers.require_group(config, args.price_group)
        return await customers.update(
            pool,
            args.name,
            by=common.actor(args),
            rate_limit=args.rate_limit,
            new_name=args.new_name,
            price_group=args.price_group,
        )

    try:
        customer = common.with_database(args, work)
    except errors.DuplicateName:
        raise errors.ResellerError(
            f"refused: a customer named {args.new_name!r} exists already; nothing changed"
        ) from None
    if customer.name != args.name:
        print(f"{args.name} is now {customer.name} (its API key keeps working)")
    limit = customer.rate_limit_per_minute
    print(f"{customer.name}: rate limit {f'{limit} per minute' if limit else 'default'}")
    if args.price_group is not None:
        print(f"{customer.name}: price group {customer.price_group or NO_GROUP}")
    return 0


def _service_id(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) < 2**31:
        raise argparse.ArgumentTypeError(f"not a service ID: {text!r}")
    return int(text)


def _rate(text: str) -> Decimal:
    rate = common.amount(text)
    if rate < 0:
        raise argparse.ArgumentTypeError(f"a rate is not negative: {text!r}")
    return rate


def _discount(text: str) -> Decimal:
    percent = common.amount(text)
    if not 0 <= percent <= 100:
        raise argparse.ArgumentTypeError(f"a discount is 0 to 100 percent: {text!r}")
    return percent


def _price(args: argparse.Namespace) -> int:
    if args.clear:
        old = common.with_database(
            args,
            lambda pool, _: customers.clear_price(
                pool, args.name, args.service, by=common.actor(args)
            ),
        )
        print(f"{args.name}: service {args.service} no longer at its own {old.describe()}")
        return 0
    override = PriceOverride(args.service, args.rate, args.discount)

    async def work(pool: db.Database, config: Config) -> tuple[Decimal, PriceOverride | None]:
        customer = await customers.get(pool, args.name)
        service = (await catalog.load(pool)).get(args.service)
        if service is None:
            raise errors.ResellerError(
                f"refused: service {args.service} is not on sale; nothing changed"
            )
        group = customers.group_terms(customer, config)
        rate = customer_prices.rate(
            service, group, customers.tier_discount(customer, group), override, config.pricing
        )
        if group is not None and not groups.visible(group, service.id, service.category):
            raise errors.ResellerError(
                f"refused: service {service.id} is hidden by {customer.name}'s group"
                f" {group.name}; nothing changed"
            )
        if not groups.sellable(rate, service.cost, service.rate):
            floor, what = (
                (service.rate, "price-list rate (its cost is not known yet)")
                if service.cost is None
                else (service.cost, "cost")
            )
            raise errors.ResellerError(
                f"refused: {money.format_amount(rate)} is below service {service.id}'s {what}"
                f" {money.format_amount(floor)}; nothing changed"
            )
        return rate, await customers.set_price(pool, args.name, override, by=common.actor(args))

    rate, old = common.with_database(args, work)
    print(
        f"{args.name}: service {args.service} at {override.describe()}, pays"
        f" {money.format_amount(rate)} (was {old.describe() if old else 'the group or list rate'})"
    )
    return 0


def _prices(args: argparse.Namespace) -> int:
    async def work(pool: db.Database, config: Config) -> tuple[str, list[tuple[Any, ...]]]:
        customer, stored = await customers.prices(pool, args.name)
        current = await catalog.load(pool)
        group = customers.group_terms(customer, config)
        tier = customers.tier_discount(customer, group)
        rows = []
        for price in stored:
            service = current.get(price.override.service_id)
            rate, state = None, "off sale: service not on sale"
            if service is not None:
                rate = customer_prices.rate(service, group, tier, price.override, config.pricing)
                why = customer_prices.off_sale(service, group, rate)
                state = "on sale" if why is None else f"off sale: {why}"
            shown = money.format_amount(rate) if rate is not None else None
            rows.append(
                (price.override.service_id, price.override.describe(), shown, state, price.reason)
            )
        spent = f"{money.format_amount(customer.spent_30d)} {config.api.currency}"
        title = (
            f"{customer.name}: group {customer.price_group or NO_GROUP},"
            f" tier {tier.normalize():f}% (paid {spent} in 30 days),"
            f" rates in {config.api.currency}"
        )
        return title, rows

    title, rows = common.with_database(args, work)
    output.emit(args, ("service", "price", "rate", "state", "reason"), rows, title=title)
    return 0


def _statement(args: argparse.Namespace) -> int:
    if args.start and args.end and args.end <= args.start:
        raise errors.ResellerError("--to must be after --from")
    found = common.with_database(
        args,
        lambda pool, _: customers.statement(pool, args.name, since=args.start, until=args.end),
    )
    rows = customers.statement_rows(found)
    if args.json:
        _print_json_statement(args, found, rows)
        return 0
    if not args.csv:  # a person's table starts and ends with the balances around the period
        opening = money.format_amount(found.opening)
        closing = money.format_amount(found.closing)
        rows.insert(0, (_day(args.start), None, None, "opening", None, opening, None))
        rows.append((_day(args.end), None, None, "closing", None, closing, None))
    customer = found.customer
    title = f"{customer.name}, {customer.currency}: {_period(args.start, args.end)}"
    output.emit(args, customers.STATEMENT_COLUMNS, rows, title=title)
    return 0


def _print_json_statement(
    args: argparse.Namespace, found: customers.Statement, rows: list[tuple[Any, ...]]
) -> None:
    """An object, not `output.emit`'s array: the balances around the period belong to the
    statement, not to any entry."""
    document = {
        "customer": found.customer.name,
        "currency": found.customer.currency,
        "from": _day(args.start),
        "to": _day(args.end),
        "opening": money.format_amount(found.opening),
        "closing": money.format_amount(found.closing),
        "entries": output.records(customers.STATEMENT_COLUMNS, rows),
    }
    sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")


def _day(day: datetime | None) -> str | None:
    return f"{day:%Y-%m-%d}" if day else None


def _period(start: datetime | None, end: datetime | None) -> str:
    if start and end:
        return f"from {_day(start)} to {_day(end)} (excluded)"
    if start:
        return f"from {_day(start)}"
    return f"before {_day(end)}" if end else "every entry"


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
    balance = common.with_database(
        args,
        lambda pool, _: customers.add_balance(pool, args.name, args.amount, by=common.actor(args)),
    )
    print(f"{args.name}: balance {money.format_amount(balance)}")
    return 0
