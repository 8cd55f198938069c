"""The operator's command line: `reseller <command>`.

Every command finds its config with --config FILE, else $RESELLER_CONFIG, else ./config.yaml.
With none of them, read-only commands run on the built-in defaults, but the commands that write
(serve, worker, migrate, services sync) refuse unless --no-config asks for the defaults: the
defaults have no providers and no services, so serving or syncing on them by mistake takes the
whole catalog off sale.
Bad input gets one line on stderr and exit code 2; nothing is half-done.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from reseller import errors, logs
from reseller.cli import (
    audit,
    backup,
    common,
    customers,
    operators,
    ops,
    orders,
    providers,
    report,
    services,
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    # `simulate` hands its own options to the simulator's parser.
    args, rest = parser.parse_known_args(argv)
    if rest and not getattr(args, "passes_options", False):
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    args.options = rest
    logs.configure(level=logging.WARNING, to_stderr=True)  # `serve` and friends reconfigure
    try:
        return int(args.command(args))
    except errors.DatabaseUnavailable as exc:
        return _fail(exc.message, common.EXIT_UNAVAILABLE)
    except (errors.ResellerError, ValueError) as exc:
        return _fail(str(exc), common.EXIT_USAGE)
    except KeyboardInterrupt:
        return 130


def _fail(message: str, code: int) -> int:
    print(f"reseller: {message}", file=sys.stderr)
    return code


def _parser() -> common.Parser:
    parser = common.Parser(prog="reseller", description="SMM-panel reseller (API v2)")
    common.add_global_options(parser)
    commands = parser.add_subparsers(
        required=True, metavar="COMMAND", parser_class=common.CommandParser
    )
    for module in (ops, customers, services, orders, report, providers, audit, backup, operators):
        module.register(commands)
    return parser
