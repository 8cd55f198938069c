"""`reseller operators add|passwd|disable|list`: the web console's accounts."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from reseller import errors, operators
from reseller.cli import common, output


def register(commands: Any) -> None:
    group = common.subcommands(commands, "operators", "the web console's operator accounts")
    add = group.add_parser(
        "add", help="a new operator; prints a generated password once (or reads one from stdin)"
    )
    add.add_argument("name", type=_name)
    add.add_argument("--role", choices=operators.ROLES, default="viewer")
    _password_option(add)
    add.set_defaults(command=_add)
    passwd = group.add_parser("passwd", help="a new password (generated, or from stdin)")
    passwd.add_argument("name")
    _password_option(passwd)
    passwd.set_defaults(command=_passwd)
    disable = group.add_parser("disable", help="the operator can no longer sign in")
    disable.add_argument("name")
    disable.set_defaults(command=_disable)
    listing = group.add_parser("list", help="operators, their role and state")
    output.add_format_options(listing)
    listing.set_defaults(command=_list)


def _password_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help=f"read the password from the first line of stdin ({operators.MIN_PASSWORD}+"
        " characters) instead of generating one",
    )


def _name(text: str) -> str:
    if not (1 <= len(text) <= 64) or not all(c.isalnum() or c in "_.@-" for c in text):
        raise argparse.ArgumentTypeError("1-64 letters, digits, '_', '.', '@' or '-'")
    return text


def _stdin_password(args: argparse.Namespace) -> str | None:
    if not args.password_stdin:
        return None
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise errors.ResellerError("--password-stdin: nothing on stdin")
    return password


def _add(args: argparse.Namespace) -> int:
    password = _stdin_password(args)
    operator, generated = common.with_database(
        args,
        lambda pool, _: operators.add(pool, args.name, args.role, password, by=common.actor(args)),
    )
    print(f"operator {operator.name} added ({operator.role})")
    if generated is not None:
        print(f"password (shown once, store it now): {generated}")
    return 0


def _passwd(args: argparse.Namespace) -> int:
    password = _stdin_password(args)
    generated = common.with_database(
        args,
        lambda pool, _: operators.set_password(pool, args.name, password, by=common.actor(args)),
    )
    print(f"operator {args.name}: password changed")
    if generated is not None:
        print(f"password (shown once, store it now): {generated}")
    return 0


def _disable(args: argparse.Namespace) -> int:
    common.with_database(
        args, lambda pool, _: operators.disable(pool, args.name, by=common.actor(args))
    )
    print(f"operator {args.name} disabled: it can no longer sign in")
    return 0


def _list(args: argparse.Namespace) -> int:
    found = common.with_database(args, lambda pool, _: operators.list_all(pool))
    output.emit(
        args,
        ("name", "role", "state", "created"),
        [
            (
                o.name,
                o.role,
                "active" if o.disabled_at is None else f"disabled {o.disabled_at:%Y-%m-%d}",
                f"{o.created_at:%Y-%m-%d}",
            )
            for o in found
        ],
    )
    return 0
