"""Running it: `serve`, `migrate`, `config check`, `simulate`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from typing import Any

from reseller import config as config_module
from reseller import config_check, db, dbserver, errors, logs, migrations, server, workers
from reseller.cli import common


def register(commands: Any) -> None:
    serve = commands.add_parser("serve", help="run the API server")
    serve.add_argument("--host", help="listen address (overrides server.host)")
    serve.add_argument("--port", type=common.port, help="listen port (overrides server.port)")
    serve.add_argument(
        "--no-jobs",
        action="store_true",
        help="leave the scheduled jobs to `reseller worker` processes",
    )
    serve.add_argument(
        "--api-only",
        action="store_true",
        help="answer the API only: dispatch and the jobs are left to `reseller worker` processes",
    )
    serve.add_argument(
        "--workers",
        type=_count,
        default=1,
        help="server processes sharing the port (SO_REUSEPORT)",
    )
    serve.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    serve.set_defaults(command=_serve)

    commands.add_parser(
        "worker", help="run dispatch and the scheduled jobs without the API"
    ).set_defaults(command=_worker)

    demo = commands.add_parser(
        "demo",
        help="embedded database + simulated panel + server + console + a demo customer",
    )
    demo.add_argument("--port", type=common.port, default=8080)
    demo.add_argument("--panel-port", type=common.port, default=8090)
    demo.add_argument("--console-port", type=common.port, default=8081)
    demo.add_argument(
        "--panel-tick",
        type=float,
        default=4.0,
        help="seconds per order step on the simulated panel",
    )
    demo.add_argument("--verbose", action="store_true", help="info logs (default: warnings)")
    demo.set_defaults(command=_demo)

    commands.add_parser("migrate", help="apply database migrations").set_defaults(command=_migrate)

    check = common.subcommands(commands, "config", "configuration").add_parser(
        "check", help="validate a config file without applying it"
    )
    check.add_argument("file", nargs="?", help="the file (default: the one --config finds)")
    check.set_defaults(command=_config_check)

    simulate = commands.add_parser(
        "simulate",
        help="run a simulated upstream panel (see `reseller simulate --help`)",
        add_help=False,
    )
    simulate.set_defaults(command=_simulate, passes_options=True)


def _serve(args: argparse.Namespace) -> int:
    config = common.load_config(args, writes="serve")
    logs.configure()
    for problem in config.missing_secrets():
        print(f"reseller: warning: {problem}", file=sys.stderr)
    host = args.host or config.server.host
    port = args.port or config.server.port
    with dbserver.database(config.database, supervised=True) as database:
        if args.workers > 1:
            child_args = [
                *(["--config", args.config] if args.config else []),
                *(["--no-config"] if args.no_config else []),
                "serve",
                "--host",
                host,
                "--port",
                str(port),
                *(["--no-jobs"] if args.no_jobs else []),
                *(["--api-only"] if args.api_only else []),
            ]
            env = {**os.environ, config.database.dsn_env: database.dsn}
            return workers.supervise(child_args, args.workers, env, database.supervisor)
        asyncio.run(
            server.serve(
                config,
                database.dsn,
                host=host,
                port=port,
                jobs=not (args.no_jobs or args.api_only),
                dispatch=not args.api_only,
                reuse_port=args.reuse_port,
                supervisor=database.supervisor,
            )
        )
    return 0


def _count(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 64:
        raise argparse.ArgumentTypeError(f"not a process count (1-64): {text!r}")
    return int(text)


def _demo(args: argparse.Namespace) -> int:
    from reseller import demo  # only this command needs the simulator

    # Runs with no config file at all (the README's first command): it builds its own config
    # and reads a file, if there is one, only for where the database is.
    config = common.load_config(args)
    logs.configure(level=logging.INFO if args.verbose else logging.WARNING)
    where = config.database.embedded_dir() if config.database.dsn() is None else "$RESELLER_DSN"
    with dbserver.database_dsn(config.database) as dsn:
        asyncio.run(
            demo.run(
                dsn,
                host="127.0.0.1",
                port=args.port,
                panel_port=args.panel_port,
                console_port=args.console_port,
                panel_tick=args.panel_tick,
                database=str(where),
            )
        )
    return 0


def _worker(args: argparse.Namespace) -> int:
    config = common.load_config(args, writes="worker")
    logs.configure()
    with dbserver.database(config.database, supervised=True) as database:
        asyncio.run(server.work(config, database.dsn, supervisor=database.supervisor))
    return 0


def _migrate(args: argparse.Namespace) -> int:
    config = common.load_config(args, writes="migrate")

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
    if found := common.on_database(config, lambda pool, _: config_check.problems(config, pool)):
        raise errors.ConfigError(f"{path}: " + "; ".join(found))
    print(f"{path}: ok ({len(config.providers)} providers, {len(config.services)} services)")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from reseller import simulator  # only this command needs it

    return simulator.main(args.options)
