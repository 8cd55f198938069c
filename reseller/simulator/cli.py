"""`python -m reseller.simulator`: the simulated panel as a process of its own, until SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path

import orjson
from aiohttp import web

from reseller.simulator import catalog
from reseller.simulator.app import create_app
from reseller.simulator.config import Faults, SimConfig, fault_names


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        asyncio.run(serve(config, args.host, args.port))
    except OSError as exc:  # port taken, address not available
        print(f"simulator: {exc}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reseller simulate",
        description="A simulated upstream SMM panel speaking API v2, with fault injection. It"
        " accepts the API key sim-key (or --key, or $SIM_API_KEY): give a provider in the"
        " reseller's config a key_env whose variable holds it.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8090, help="listen port; 0 picks a free one")
    parser.add_argument(
        "--key",
        default=os.environ.get("SIM_API_KEY", "sim-key"),
        help="the API key it accepts (default: $SIM_API_KEY or sim-key)",
    )
    parser.add_argument("--currency", default="USD")
    parser.add_argument("--balance", type=_decimal, default=Decimal("1000"), help="panel balance")
    parser.add_argument(
        "--latency", type=_seconds, default=0.0, metavar="S", help="seconds added per answer"
    )
    parser.add_argument(
        "--tick", type=_seconds, default=0.5, metavar="S", help="seconds per status step"
    )
    parser.add_argument("--seed", type=int, help="random seed for reproducible faults")
    parser.add_argument(
        "--services", type=Path, metavar="FILE", help="JSON file: a services answer to serve"
    )
    parser.add_argument("--partial-ratio", type=_probability, default=0.0, metavar="P")
    parser.add_argument("--cancel-ratio", type=_probability, default=0.0, metavar="P")
    parser.add_argument("--refill-reject-ratio", type=_probability, default=0.0, metavar="P")
    parser.add_argument(
        "--unrefunded-ratio",
        type=_probability,
        default=0.0,
        metavar="P",
        help="share of Partial/Canceled orders whose refund the panel keeps",
    )
    parser.add_argument(
        "--overcharge-ratio",
        type=_probability,
        default=0.0,
        metavar="P",
        help="share of orders charged above the service's rate",
    )
    parser.add_argument(
        "--overcharge-percent",
        type=_decimal,
        default=Decimal(10),
        metavar="PCT",
        help="how far above the rate an overcharged order is charged (default 10)",
    )
    parser.add_argument(
        "--refuse-duplicate-links",
        action="store_true",
        help="refuse an add while an order for the same link and service is active",
    )
    faults = parser.add_argument_group("faults (probability 0..1 per request)")
    for name in fault_names():
        faults.add_argument(
            f"--fault-{name.replace('_', '-')}",
            dest=f"fault_{name}",
            type=_probability,
            default=0.0,
            metavar="P",
        )
    return parser


def config_from_args(args: argparse.Namespace) -> SimConfig:
    services = None
    if args.services is not None:
        try:
            services = orjson.loads(args.services.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise ValueError(f"cannot read --services {args.services}: {exc}") from None
        if not isinstance(services, list):
            raise ValueError("--services must hold a JSON list of services")
        catalog.load(services)  # ValueError naming the bad service
    return SimConfig(
        key=args.key,
        currency=args.currency,
        balance=args.balance,
        latency=args.latency,
        tick=args.tick,
        seed=args.seed,
        services=services,
        refuse_duplicate_links=args.refuse_duplicate_links,
        partial_ratio=args.partial_ratio,
        cancel_ratio=args.cancel_ratio,
        refill_reject_ratio=args.refill_reject_ratio,
        unrefunded_ratio=args.unrefunded_ratio,
        overcharge_ratio=args.overcharge_ratio,
        overcharge_percent=args.overcharge_percent,
        faults=Faults(**{name: getattr(args, f"fault_{name}") for name in fault_names()}),
    )


async def serve(config: SimConfig, host: str, port: int) -> None:
    runner = web.AppRunner(create_app(config), access_log=None, shutdown_timeout=5)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        bound = runner.addresses[0]
        print(f"simulator listening on http://{host}:{bound[1]}/api/v2", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()


def _probability(text: str) -> float:
    value = _seconds(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"not a probability 0..1: {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be 0 or more: {text!r}")
    return value


def _decimal(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a decimal amount: {text!r}") from None
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError(f"not a decimal amount: {text!r}")
    return value
